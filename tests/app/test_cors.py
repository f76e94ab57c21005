"""CORS on HTTP routes of both services, and the token cookie's attributes (the Socket.IO
handshake's origin check: tests/system/test_socket_cors.py)."""
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask

from shared.accounts.tokens import init_tokens, set_token_cookie
from shared.config import TestingConfig

from ..conftest import make_config

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = "http://localhost:5173"
DENIED = "http://evil.example"


def preflight(client, path, origin, method="POST"):
    return client.options(path, headers={
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "Authorization, Content-Type, X-Request-ID",
    })


@pytest.mark.parametrize("client_fixture", ["auth_client", "realtime_client"])
def test_preflight_from_allowed_origin(client_fixture, request):
    client = request.getfixturevalue(client_fixture)
    response = preflight(client, "/readyz", ALLOWED, method="PATCH")
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    allowed_headers = response.headers["Access-Control-Allow-Headers"].lower()
    for header in ("authorization", "content-type", "x-request-id"):
        assert header in allowed_headers
    assert "PATCH" in response.headers["Access-Control-Allow-Methods"]


@pytest.mark.parametrize("client_fixture", ["auth_client", "realtime_client"])
def test_disallowed_origin_gets_no_cors_headers(client_fixture, request):
    client = request.getfixturevalue(client_fixture)
    assert "Access-Control-Allow-Origin" not in preflight(client, "/readyz", DENIED).headers
    response = client.get("/healthz", headers={"Origin": DENIED})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_actual_request_from_allowed_origin(auth_client):
    response = auth_client.get("/healthz", headers={"Origin": ALLOWED})
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert response.headers["Vary"] == "Origin"


@pytest.mark.parametrize("client_fixture", ["auth_client", "realtime_client"])
def test_a_request_without_origin_gets_no_cors_headers(client_fixture, request):
    """Not a cross-origin browser request: no origin named, no credentials allowed."""
    response = request.getfixturevalue(client_fixture).get("/healthz")
    assert response.status_code == 200
    assert not [name for name in response.headers.keys() if name.startswith("Access-Control")]


def test_configured_origins_replace_the_defaults(mongo_uri, db):
    from auth_service.app import create_app

    app = create_app(make_config(mongo_uri, CORS_ORIGINS=["https://app.example.com"]))
    client = app.test_client()
    headers = preflight(client, "/readyz", "https://app.example.com").headers
    assert headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "Access-Control-Allow-Origin" not in preflight(client, "/readyz", ALLOWED).headers


def test_wildcard_outside_production_allows_any_origin_without_credentials(mongo_uri, db):
    from auth_service.app import create_app

    client = create_app(make_config(mongo_uri, CORS_ORIGINS=["*"])).test_client()
    headers = client.get("/healthz", headers={"Origin": DENIED}).headers
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in headers


def cookie_header(**config):
    app = Flask("cookie-test")
    app.config.from_object(type("C", (TestingConfig,), config))
    init_tokens(app)
    with app.test_request_context():
        response = set_token_cookie(app.response_class(), "tok", "user")
    return response.headers["Set-Cookie"]


def test_cookie_is_lax_and_not_secure_in_development():
    cookie = cookie_header(APP_ENV="development")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_cookie_in_production_is_secure_and_cross_site_only_when_needed():
    local = cookie_header(APP_ENV="production")
    assert "Secure" in local and "SameSite=Lax" in local
    cross = cookie_header(APP_ENV="production", CORS_ORIGINS=["https://app.example.com"])
    assert "Secure" in cross and "SameSite=None" in cross


def test_the_dev_gateway_reads_the_lists_without_the_services_dependencies():
    """make run's gateway imports the CORS lists before gevent patches ssl: pymongo and
    PyJWT (which load ssl) must not come with them, or every start warns."""
    code = ("import sys, devserver.gateway; "
            "print(sorted(m for m in ('pymongo', 'jwt', 'flask_jwt_extended') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=ROOT)
    assert result.stdout.strip() == "[]"

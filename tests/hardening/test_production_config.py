"""Attacks on the services as production runs them (APP_ENV=production, a real secret,
rate limits on): code paths that the test configuration skips are attacked too."""
import jwt
import pytest
import requests

from ..conftest import serve
from ..factories import make_user
from .forge import claims

SECRET = "a-production-secret-of-at-least-32-chars"


@pytest.fixture(scope="module")
def production_auth(mongo_uri, tmp_path_factory):
    service = serve("auth_service", mongo_uri, tmp_path_factory.mktemp("prod-auth"),
                    APP_ENV="production", JWT_SECRET_KEY=SECRET, RATELIMIT_ENABLED="true",
                    LOGIN_RATE_LIMIT="1000 per minute")
    yield service
    service.stop()


@pytest.mark.parametrize("path", ["/users/login", "/users/register", "/captains/login"])
def test_a_deeply_nested_body_is_a_400_with_the_rate_limits_on(production_auth, db, path):
    """The per-email limit key parsed the body first, and the
    RecursionError escaped as a 500."""
    body = '{"email":' * 50_000 + '"x"' + "}" * 50_000
    response = requests.post(production_auth.url + path, data=body, timeout=10,
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "message" in response.json() or "errors" in response.json()


@pytest.mark.parametrize("role", [["user"], {"$ne": None}, 1, None])
def test_a_signed_token_with_a_malformed_role_is_a_401(production_auth, db, role):
    """A role that is not a string was a 500 over HTTP."""
    user = make_user(db)
    token = jwt.encode(claims(user, role=role), SECRET, algorithm="HS256")
    response = requests.get(production_auth.url + "/users/profile", timeout=10,
                            headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json() == {"message": "Invalid token"}

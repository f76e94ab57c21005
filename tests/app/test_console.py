"""The browser console page and its static files, served by the realtime service."""
import re
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parents[2] / "realtime_service" / "console" / "static"
OWN_FILES = sorted(p for p in STATIC.rglob("*") if p.is_file() and "vendor" not in p.parts)
EXTERNAL_URL = re.compile(r"""(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}""", re.IGNORECASE)


def test_page_is_served_at_the_root(realtime_client, config):
    response = realtime_client.get("/")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "<title>Ridewire console</title>" in html
    assert f'name="ridewire-auth-url" content="http://localhost:{config.AUTH_PORT}"' in html
    assert "__AUTH_URL__" not in html


def connect_sources(response):
    policy = response.headers["Content-Security-Policy"]
    return next(part.split()[1:] for part in policy.split(";")
                if part.split()[:1] == ["connect-src"])


def test_page_has_a_strict_content_security_policy(realtime_client, config):
    headers = realtime_client.get("/").headers

    policy = headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", ["/", "/console/", "/?auth=http://evil.example"])
def test_page_connects_to_its_own_origin_and_the_auth_service_only(realtime_client, config,
                                                                   path):
    """A link could name another auth service in the page's address; the page takes
    its URL from the server only, and may connect nowhere else."""
    direct = realtime_client.get(path)
    behind_a_gateway = realtime_client.get(path, headers={"X-Forwarded-For": "10.0.0.1"})

    assert connect_sources(direct) == ["'self'", f"http://localhost:{config.AUTH_PORT}"]
    assert connect_sources(behind_a_gateway) == ["'self'"]
    assert '<meta name="ridewire-auth-url" content="">' in behind_a_gateway.get_data(
        as_text=True)
    assert "evil.example" not in direct.get_data(as_text=True)


@pytest.mark.parametrize("host", ["evil.example/x", 'a"b', "a b", "[::1]:5002"])
def test_a_strange_host_gets_no_auth_url_but_its_own_origin(realtime_client, host):
    html = realtime_client.get("/", headers={"Host": host}).get_data(as_text=True)
    auth = re.search(r'name="ridewire-auth-url" content="([^"]*)"', html).group(1)
    assert auth in ("", "http://[::1]:5001"), auth


def test_no_script_reads_the_page_address():
    """The console's scripts take no URL (nor anything else) from the page's query or
    fragment."""
    for path in OWN_FILES:
        if path.suffix == ".js":
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"location\.(search|hash)|URLSearchParams", text), path


@pytest.mark.parametrize("app_env, setting, served", [
    ("production", None, False), ("production", True, True),
    ("development", None, True), ("development", False, False),
])
def test_console_is_off_in_production_unless_turned_on(mongo_uri, db, app_env, setting,
                                                       served):
    from realtime_service.app import create_app
    from tests.conftest import make_config

    config = make_config(mongo_uri, APP_ENV=app_env, CONSOLE_ENABLED=setting,
                         JWT_SECRET_KEY="a-production-secret-of-at-least-32-chars",
                         CORS_ORIGINS=["https://app.example"])
    client = create_app(config).test_client()
    for path in ("/", "/console/", "/console/app.js"):
        response = client.get(path)
        assert response.status_code == (200 if served else 404), path
        response.close()


def test_console_setting_is_read_from_the_environment():
    from tests.app.test_foundation import config_values

    assert config_values({}, "CONSOLE_ENABLED") == [None]
    assert config_values({"CONSOLE_ENABLED": "true"}, "CONSOLE_ENABLED") == [True]
    assert config_values({"CONSOLE_ENABLED": "false"}, "CONSOLE_ENABLED") == [False]


@pytest.mark.parametrize("path, mimetype", [
    ("/console/app.js", "text/javascript"),
    ("/console/js/session.js", "text/javascript"),
    ("/console/js/chat.js", "text/javascript"),
    ("/console/style.css", "text/css"),
    ("/console/vendor/socket.io.min.js", "text/javascript"),
])
def test_static_files_have_the_right_content_type(realtime_client, path, mimetype):
    response = realtime_client.get(path)

    assert response.status_code == 200
    assert response.mimetype == mimetype
    response.close()


def test_every_script_and_stylesheet_the_page_loads_exists(realtime_client):
    html = realtime_client.get("/").get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    modules = [m for p in STATIC.glob("**/*.js") if "vendor" not in p.parts
               for m in re.findall(r'from "\./([^"]+)"', p.read_text())]

    assert "console/vendor/socket.io.min.js" in assets
    for asset in assets:
        response = realtime_client.get("/" + asset)
        assert response.status_code == 200, asset
        response.close()
    for module in modules:
        assert (STATIC / module).exists() or (STATIC / "js" / module).exists(), module


def test_no_file_of_the_page_points_to_the_internet():
    assert OWN_FILES, "the console's files are missing"
    for path in OWN_FILES:
        if path.suffix in {".html", ".js", ".css"}:
            assert not EXTERNAL_URL.search(path.read_text(encoding="utf-8")), path


def test_the_vendored_client_is_self_contained():
    """The Socket.IO client is the npm build, with its license and no remote imports."""
    vendor = STATIC / "vendor"
    client = (vendor / "socket.io.min.js").read_text(encoding="utf-8")

    assert client.startswith("/*!\n * Socket.IO v4.")
    assert "MIT License" in (vendor / "socket.io-client.LICENSE").read_text(encoding="utf-8")
    assert not re.search(r"""\bimport\s*\(|importScripts|\bfrom\s*["']http""", client)


def test_unknown_console_file_is_404(realtime_client):
    assert realtime_client.get("/console/nope.js").status_code == 404
    assert realtime_client.get("/console/../console.py").status_code == 404


def test_default_cors_origins_allow_the_console():
    """`make run`: the page at the realtime port may call the auth service."""
    from .test_foundation import config_values

    origins, port = config_values({"REALTIME_PORT": "6102"}, "CORS_ORIGINS", "REALTIME_PORT")
    assert port == 6102
    assert {"http://localhost:6102", "http://127.0.0.1:6102",
            "http://localhost:3000"} <= set(origins)


def test_page_and_files_are_always_revalidated(realtime_client):
    for path in ("/", "/console/app.js"):
        response = realtime_client.get(path)
        assert "no-cache" in response.headers["Cache-Control"], path
        response.close()

"""`make run`'s gateway (devserver/gateway.py) and production's nginx (deploy/nginx.conf)
route by one table (nginx.conf's locations, which devserver/routes.py reads):
both run here in front of echo services that say who answered, each with and without
a built frontend, and every path of the table must reach the service it names with the
path it says. Then their own answers: frontend files, the single-page-app fallback,
no path traversal, and CORS headers on their 404, 413, 503 and preflights."""
import itertools
import json
import os
import re
import time
from urllib.parse import urlsplit

import pytest
import requests
import yaml

from devserver.routes import (
    HEALTH_PATH,
    MAX_BODY,
    ROUTES,
    redirect_for,
    resolve,
    split_target,
)
from shared.cors import ALLOW_HEADERS, EXPOSE_HEADERS, METHODS
from tests.devgateway_support import (
    APP_ORIGIN,
    FILES,
    HIDDEN_FILES,
    OTHER_ORIGIN,
    SECRET,
    WELL_KNOWN,
    EchoService,
    FrontNginx,
    dev_gateway,
    exchange,
    make_frontend,
    raw_request,
)
from tests.gateway_support import NGINX_CONF, ROOT

pytestmark = pytest.mark.timeout(120)
KINDS = ("dev", "nginx")
EXTRA_PATHS = [
    "/", "/captain-home", "/captain-login", "/user/logout", "/login", "/home", "/USERS",
    "/api", "/api/", "/api/other", HEALTH_PATH, "/gateway", "/socket.io",
    "/socket.io/?EIO=4&transport=polling", "/users//profile", "/./users/x", "/users/%2e%2e/rides",
    "/assets/app.js", "/assets/", "/assets", "/logo.svg", "/nothing/here",
    "/auth-service", "/realtime-service/openapi.json?x=1", "/console/", "/console/app.js",
]
PREFLIGHT = {"Origin": APP_ORIGIN, "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "token, content-type"}


@pytest.fixture(scope="module")
def echoes():
    services = EchoService("auth"), EchoService("realtime")
    yield services
    for service in services:
        service.close()


@pytest.fixture(scope="module")
def gateways(echoes, tmp_path_factory):
    """{(kind, frontend?): gateway} for both kinds, plus (kind, "down") in front of two
    ports where nothing listens."""
    base = tmp_path_factory.mktemp("gateways")
    dist = make_frontend(base)
    auth, realtime = echoes
    dead = [EchoService("dead") for _ in range(2)]
    for service in dead:
        service.close()
    started = {}
    try:
        for kind, mode in itertools.product(KINDS, (False, True, "down")):
            directory = base / f"{kind}-{mode}"
            directory.mkdir()
            ports = [s.port for s in (dead if mode == "down" else echoes)]
            make = FrontNginx if kind == "nginx" else dev_gateway
            started[kind, mode] = make(directory, *ports, dist=dist if mode is True else None)
            started[kind, mode].start()
        yield started
    finally:
        for child in started.values():
            child.stop()


def prefixes(route):
    """The paths a route names: a regex location's alternatives, else its match."""
    if route.kind != "~":
        return [route.match]
    return ["/" + name for name in re.fullmatch(r"\^/\((.*)\)\(/\|\$\)", route.match)[1].split("|")]


def probe_paths():
    """Paths from the table (each prefix, below it, beside it) and around it."""
    paths = list(EXTRA_PATHS)
    for route in ROUTES:
        for prefix in prefixes(route):
            base = prefix.rstrip("/") or "/"
            paths += [prefix] if route.kind == "=" else [
                base, base + "/", base + "/x/y?q=1", base + "x", base + "-home"]
    return sorted(set(paths))


def test_every_location_that_proxies_is_a_route_of_the_dev_gateway():
    """Nothing in nginx.conf is skipped unread: each `proxy_pass` is one route (a page
    route's is in its named location), and the routes name the two services only."""
    conf = NGINX_CONF.read_text()
    assert conf.count("proxy_pass ") == len(ROUTES) > 10
    assert {route.upstream for route in ROUTES} == {"auth", "realtime"}
    assert MAX_BODY == 8 * 1024 * 1024


def expected(target, frontend):
    """What the table says `target` gets."""
    path, query = split_target(target)
    if path == HEALTH_PATH:
        return "own", 200, {"status": "ok"}
    if redirect_for(path):
        return "redirect", redirect_for(path), query
    route = resolve(path)
    if route is not None and not (route.page and frontend):
        return "service", route.upstream, route.target(target, path, query)
    if frontend:
        return "file", FILES.get(path.lstrip("/"), FILES["index.html"])
    return "own", 404, {"message": "Not found"}


def outcome(gateway, target, method="GET"):
    status, headers, body = raw_request(gateway.port, target, method)
    if status == 301:
        location = urlsplit(headers["location"])
        return "redirect", location.path, location.query
    if not body:
        return "own" if status != 200 else "file", status, ""
    if headers.get("content-type", "").startswith("application/json"):
        data = json.loads(body)
        if "upstream" in data:
            return "service", data["upstream"], data["target"]
        return "own", status, data
    if status == 200:
        return "file", body.decode()
    return "own", status, body.decode()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("frontend", [False, True], ids=["no-frontend", "frontend"])
def test_every_path_goes_where_the_table_says(gateways, kind, frontend):
    gateway = gateways[kind, frontend]
    wrong = {target: (outcome(gateway, target), expected(target, frontend))
             for target in probe_paths()
             if outcome(gateway, target) != expected(target, frontend)}
    assert not wrong, wrong


def assert_cors(response, origin=APP_ORIGIN):
    headers = response.headers
    assert "Origin" in headers["Vary"]
    if origin == APP_ORIGIN:
        assert headers["Access-Control-Allow-Origin"] == APP_ORIGIN
        assert headers["Access-Control-Allow-Credentials"] == "true"
    else:
        assert "Access-Control-Allow-Origin" not in headers


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("origin", [APP_ORIGIN, OTHER_ORIGIN])
def test_own_errors_are_json_with_cors(gateways, kind, origin):
    headers = {"Origin": origin}
    missing = requests.get(f"{gateways[kind, False].url}/nothing", headers=headers, timeout=5)
    assert missing.status_code == 404 and missing.json() == {"message": "Not found"}
    assert_cors(missing, origin)
    for path in ("/users/login", "/nothing.js"):  # a route, no route
        too_large = requests.post(f"{gateways[kind, True].url}{path}", headers=headers,
                                  data=b"x" * (MAX_BODY + 1), timeout=20)
        assert too_large.status_code == 413
        assert too_large.json() == {"message": "Request body too large"}
        assert_cors(too_large, origin)
    down = requests.get(f"{gateways[kind, 'down'].url}/users/profile", headers=headers,
                        timeout=10)
    assert down.status_code == 503 and down.json() == {"message": "Service unavailable"}
    assert_cors(down, origin)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("frontend", [False, True], ids=["no-frontend", "frontend"])
def test_preflight_of_an_unknown_path_is_allowed(gateways, kind, frontend):
    response = requests.options(f"{gateways[kind, frontend].url}/maps-nowhere/x",
                                headers=PREFLIGHT, timeout=5)
    assert response.status_code == 204
    assert_cors(response)
    # the services' own lists (shared/cors.py), Idempotency-Key included
    assert response.headers["Access-Control-Allow-Methods"] == ", ".join(METHODS)
    assert response.headers["Access-Control-Allow-Headers"] == ", ".join(ALLOW_HEADERS)
    assert "Idempotency-Key" in ALLOW_HEADERS
    assert response.headers["Access-Control-Expose-Headers"] == ", ".join(EXPOSE_HEADERS)


@pytest.mark.parametrize("kind", KINDS)
def test_chunked_bodies_over_the_limit_are_refused(gateways, kind):
    def body(size):
        for _ in range(size // 65536):
            yield b"x" * 65536

    url = f"{gateways[kind, False].url}/messages/send/x"
    fits = requests.post(url, data=body(2 * 1024 * 1024), timeout=20)
    assert fits.json()["body_length"] == 2 * 1024 * 1024
    assert requests.post(url, data=body(MAX_BODY + 65536), timeout=20).status_code == 413


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
def test_a_body_of_exactly_the_limit_is_forwarded(gateways, kind, chunked):
    """client_max_body_size is the largest body allowed, not the first one refused."""
    data = [b"x" * 65536] * (MAX_BODY // 65536)
    answer = requests.post(f"{gateways[kind, False].url}/messages/send/x", timeout=20,
                           data=iter(data) if chunked else b"".join(data))
    assert answer.status_code == 200 and answer.json()["body_length"] == MAX_BODY


@pytest.mark.parametrize("kind", KINDS)
def test_a_malformed_chunked_body_is_a_bad_request(gateways, kind):
    """A chunk size that is not hex: 400 (from gunicorn itself, as for a request head it
    cannot parse), never a service's answer."""
    received = exchange(gateways[kind, False].port,
                        "POST /messages/send/x HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                        "zz\r\nabc\r\n0\r\n\r\n")
    assert received.startswith(b"HTTP/1.1 400"), received
    assert b"body_length" not in received


@pytest.mark.parametrize("kind", KINDS)
def test_services_get_the_client_address_and_host(gateways, kind):
    """X-Forwarded-For is the address the client connected from, whatever the client
    wrote there: a service trusting one hop must not let it pick its address."""
    got = requests.get(f"{gateways[kind, False].url}/users/profile",
                       headers={"X-Forwarded-For": "203.0.113.9"}, timeout=5).json()["headers"]
    assert got["X-Forwarded-For"] == "127.0.0.1"
    assert got["X-Forwarded-Proto"] == "http"
    assert got["Host"] == f"127.0.0.1:{gateways[kind, False].port}"


UPGRADE = ("Host: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
SMUGGLED = "GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"



@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("target", ["/users/profile", "/socket.io/?EIO=4&transport=websocket"])
def test_an_upgrade_the_service_does_not_accept_is_no_tunnel(gateways, kind, target):
    """A request asking for a websocket that the service answers 200, not 101 (any
    route, a websocket one too): no tunnel, so a request written after it never
    reaches a service unparsed (the gateway may answer it itself)."""
    received = exchange(gateways[kind, False].port, f"GET {target} HTTP/1.1\r\n{UPGRADE}"
                        f"{SMUGGLED}")
    assert received.startswith(b"HTTP/1.1 200"), received
    assert b'"target": "/readyz"' not in received, received


def test_the_same_paths_take_websockets_in_both_gateways():
    """The routes that pass an upgrade on (`websocket`) are the nginx locations that set
    the Upgrade header."""
    conf = NGINX_CONF.read_text()
    upgrading = {prefix for prefix, body in re.findall(
        r"location \^~ (\S+) \{(.*?)\n        \}", conf, re.DOTALL)
        if "proxy_set_header Upgrade $http_upgrade;" in body}
    assert upgrading == {route.match for route in ROUTES if route.websocket}
    assert conf.count("proxy_set_header Upgrade") == len(upgrading)


def test_dev_gateway_streams_the_answer(gateways):
    started = time.monotonic()
    with requests.get(f"{gateways['dev', False].url}/rides/stream", stream=True,
                      timeout=10) as response:
        chunks = response.iter_content(chunk_size=None)
        assert next(chunks) == b"first" and time.monotonic() - started < 1.5
        assert b"".join(chunks) == b"second"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name, media_type", [
    ("assets/app.js", "javascript"), ("assets/style.css", "text/css"),
    ("logo.svg", "image/svg+xml"), ("index.html", "text/html"),
])
def test_frontend_files_have_their_type(gateways, kind, name, media_type):
    response = requests.get(f"{gateways[kind, True].url}/{name}", timeout=5)
    assert response.status_code == 200 and response.text == FILES[name]
    assert media_type in response.headers["Content-Type"]
    head = requests.head(f"{gateways[kind, True].url}/{name}", timeout=5)
    assert head.status_code == 200 and head.content == b""


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("target", [
    "/../secret.txt", "/%2e%2e/secret.txt", "/assets/../../secret.txt",
    "/assets/%2e%2e/%2e%2e/secret.txt", "/..%2fsecret.txt", "/%2e%2e%2fsecret.txt",
    "/assets/..%2f..%2fsecret.txt", "/.%2e/secret.txt", "/%252e%252e/secret.txt",
])
def test_no_path_leaves_the_frontend_folder(gateways, kind, target):
    status, _, body = raw_request(gateways[kind, True].port, target)
    assert SECRET.encode() not in body
    assert status == 400 or body.decode() == FILES["index.html"], (status, body)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("target", [
    "/.env", "/%2eenv", "/%2Eenv", "/assets/../.env", "/.git/config", "/%2egit/config",
    "/assets/.env", "/assets/%2eenv", "/.git/", "/.well-known/../.env",
])
def test_hidden_files_of_the_frontend_are_never_served(gateways, kind, target):
    """Dotfiles and dot-folders in FRONTEND_DIR (.env, .git/) are a JSON 404, not the
    file and not the single-page app's index.html either."""
    status, headers, body = raw_request(gateways[kind, True].port, target)
    assert status == 404 and json.loads(body) == {"message": "Not found"}, (status, body)
    assert not any(text.encode() in body for text in HIDDEN_FILES.values())


@pytest.mark.parametrize("kind", KINDS)
def test_well_known_files_are_served(gateways, kind):
    for name, text in WELL_KNOWN.items():
        status, _, body = raw_request(gateways[kind, True].port, f"/{name}")
        assert status == 200 and body.decode() == text


@pytest.mark.parametrize("kind", KINDS)
def test_folders_are_never_listed(gateways, kind):
    for target in ("/assets/", "/assets", "/assets/?C=M"):
        status, _, body = raw_request(gateways[kind, True].port, target)
        assert status == 200 and body.decode() == FILES["index.html"]


def test_dev_gateway_follows_no_link_out_of_the_folder(gateways):
    dist = gateways["dev", True].env["FRONTEND_DIR"]
    link = f"{dist}/assets/leak.txt"
    os.symlink(f"{dist}/../secret.txt", link)
    try:
        status, _, body = raw_request(gateways["dev", True].port, "/assets/leak.txt")
        assert body.decode() == FILES["index.html"] and status == 200
    finally:
        os.unlink(link)


def test_dev_gateway_answers_bad_requests_with_json(gateways):
    """A path that climbs above the root is the gateway's JSON 400 with CORS; a request
    gunicorn cannot parse, or with a header past its limit, is refused by gunicorn
    itself before any service sees it (as the services' own gunicorn does)."""
    port = gateways["dev", False].port
    for target in ("/..", "/users/%2e%2e/%2e%2e/x"):
        status, headers, body = raw_request(port, target, headers=[f"Origin: {APP_ORIGIN}"])
        assert status == 400 and json.loads(body) == {"message": "Bad request"}, target
        assert headers["access-control-allow-origin"] == APP_ORIGIN
    assert raw_request(port, "nothing")[0] == 400
    assert raw_request(port, "/users/x", headers=["X: " + "y" * 200_000])[0] == 431


def test_compose_gives_nginx_its_cors_origins_and_frontend():
    """The gateway container writes its CORS map at start (an executable script in the
    nginx image's /docker-entrypoint.d/) and mounts FRONTEND_DIR where nginx.conf looks."""
    gateway = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["gateway"]
    mounts = {target: source for source, target, *_ in
              (volume.rsplit(":", 2) for volume in gateway["volumes"])}
    script = mounts["/docker-entrypoint.d/40-ridewire-cors.sh"]
    assert (ROOT / script).resolve() == ROOT / "deploy" / "nginx-cors.sh"
    assert os.access(ROOT / script, os.X_OK)
    assert "CORS_ORIGINS" in gateway["environment"]
    assert mounts["/srv/frontend"] == "${FRONTEND_DIR:-no-frontend}"
    assert "root /srv/frontend;" in NGINX_CONF.read_text()

"""`make run`'s gateway in front of the real services: every route prefix reaches the
service the table names, Socket.IO over long-polling and websocket, image-sized bodies,
the console at /console/ beside a frontend at /, and `make run` itself (its banner, the
gateway URL first, and Ctrl-C)."""
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

from devserver.processes import port_open
from devserver.routes import ROUTES
from tests.auth_api import PNG_1PX, data_url
from tests.conftest import service_env
from tests.devgateway_support import APP_ORIGIN, FILES, dev_gateway, make_frontend
from tests.factories import make_user, token_for
from tests.harness import free_port
from tests.sockets import RecordingClient

pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).resolve().parents[2]
# A path under every prefix of the table, and the service that must log it.
PROBES = [
    ("/users/profile", "auth"), ("/captains/profile", "auth"), ("/auth/refresh", "auth"),
    ("/media/0123456789abcdef01234567", "auth"), ("/api/auth/check", "auth"),
    ("/messages/users", "realtime"), ("/rides", "realtime"),
    ("/maps/get-suggestions?input=abc", "realtime"), ("/api/messages/users", "realtime"),
    ("/socket.io/?EIO=4&transport=polling", "realtime"), ("/console/app.js", "realtime"),
    ("/console/", "realtime"), ("/auth-service/openapi.json", "auth"),
    ("/realtime-service/openapi.json", "realtime"),
    ("/api/v1/users/get_all_activity?token=x", "realtime"),
    ("/api/v1/users/add_to_activity", "realtime"), ("/api/v1/users/login", "auth"),
]


@pytest.fixture(scope="module")
def gateway(served_auth, served_realtime, tmp_path_factory):
    directory = tmp_path_factory.mktemp("devgateway")
    child = dev_gateway(directory, served_auth.port, served_realtime.port,
                        dist=make_frontend(directory)).start()
    yield child
    child.stop()


def logged_by(services, request_id):
    for _ in range(50):
        for name, service in services.items():
            if f'"request_id": "{request_id}"' in Path(service.log_path).read_text():
                return name
        time.sleep(0.05)
    return None


def test_every_prefix_reaches_its_service(gateway, served_auth, served_realtime):
    services = {"auth": served_auth, "realtime": served_realtime}
    covered = {route.match for route in ROUTES for path, _ in PROBES
               if route.matches(path.split("?")[0])}
    assert covered == {route.match for route in ROUTES if not route.page}
    for path, service in PROBES:
        request_id = f"gw-{uuid.uuid4().hex}"
        answer = requests.get(f"{gateway.url}{path}", headers={"X-Request-ID": request_id},
                              timeout=5)
        assert logged_by(services, request_id) == service, path
        if path.startswith("/socket.io/"):  # close the Engine.IO session it opened
            sid = json.loads(answer.text[1:])["sid"]
            requests.post(f"{gateway.url}{path}&sid={sid}", data="1", timeout=5)


def test_stripped_prefixes_reach_each_service_whole(gateway):
    auth = requests.get(f"{gateway.url}/auth-service/openapi.json", timeout=5).json()
    realtime = requests.get(f"{gateway.url}/realtime-service/openapi.json", timeout=5).json()
    assert "/users/register" in auth["paths"]
    assert "/messages/send/{other_id}" in realtime["paths"]


def test_frontend_at_the_root_and_the_console_under_console(gateway):
    assert requests.get(f"{gateway.url}/", timeout=5).text == FILES["index.html"]
    assert requests.get(f"{gateway.url}/captain-home", timeout=5).text == FILES["index.html"]
    console = requests.get(f"{gateway.url}/console/", timeout=5)
    assert console.status_code == 200 and "<title>Ridewire console</title>" in console.text
    assert '<base href="../">' in console.text
    assert requests.get(f"{gateway.url}/console/app.js", timeout=5).status_code == 200
    assert requests.get(f"{gateway.url}/console", timeout=5).url == f"{gateway.url}/console/"


def test_service_preflights_allow_what_the_gateway_allows(gateway):
    headers = {"Origin": "http://localhost:5173", "Access-Control-Request-Method": "PUT",
               "Access-Control-Request-Headers": "authorization, content-type, token, "
                                                 "x-request-id, x-socket-id"}
    service = requests.options(f"{gateway.url}/api/auth/update-profile", headers=headers,
                               timeout=5)
    assert service.status_code == 200
    assert service.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
    allowed = {h.strip().lower() for h in
               service.headers["Access-Control-Allow-Headers"].split(",")}
    assert allowed == {"authorization", "content-type", "token", "x-request-id", "x-socket-id"}


@pytest.mark.parametrize("transports", [("polling",), ("websocket",), ("polling", "websocket")])
def test_socketio_through_the_gateway_gets_its_pushes(gateway, db, transports):
    alice, bob = make_user(db, "Alice"), make_user(db, "Bobby")
    client = RecordingClient().connect(gateway.url, token_for(bob), transports=transports)
    try:
        client.wait_for("getOnlineUsers", lambda ids: str(bob["_id"]) in ids)
        if len(transports) == 2:  # long-polling first, then the upgrade
            deadline = time.monotonic() + 5
            while client.client.transport() != "websocket" and time.monotonic() < deadline:
                time.sleep(0.05)
        assert client.client.transport() == transports[-1]
        sent = requests.post(f"{gateway.url}/messages/send/{bob['_id']}", json={"text": "hi"},
                             headers={"Authorization": f"Bearer {token_for(alice)}"}, timeout=5)
        assert sent.status_code == 201, sent.text
        assert client.wait_for("newMessage")["senderId"] == str(alice["_id"])
    finally:
        client.disconnect()


def test_image_sized_bodies_go_through(gateway, db):
    user = make_user(db)
    picture = data_url(PNG_1PX + b"\0" * (3 * 1024 * 1024))
    response = requests.patch(f"{gateway.url}/users/profile", json={"profilePic": picture},
                              headers={"Authorization": f"Bearer {token_for(user)}"},
                              timeout=20)
    assert response.status_code == 200, response.text[:200]
    # Over the service's own limit (1 MiB here) but not the gateway's: the service's 413.
    login = requests.post(f"{gateway.url}/users/login", data=b"{" + b" " * (2 << 20) + b"}",
                          headers={"Content-Type": "application/json", "Origin": APP_ORIGIN},
                          timeout=20)
    assert login.status_code == 413 and "message" in login.json()


def start_make_run(env):
    """`python -m devserver` (what `make run` runs) with its output collected."""
    proc = subprocess.Popen([sys.executable, "-m", "devserver"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    lines = []
    threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()
    return proc, lines


def test_make_run_prints_the_gateway_first_and_stops_on_ctrl_c(mongo_server, db_client,
                                                              tmp_path):
    """On a database of its own (dropped after: what `make run` seeds stays there)."""
    database = f"makerun_{uuid.uuid4().hex[:8]}"
    ports = {name: free_port() for name in ("AUTH_PORT", "REALTIME_PORT", "GATEWAY_PORT")}
    env = {**os.environ, **service_env(mongo_server.uri(database), **ports,
                                       FRONTEND_DIR=make_frontend(tmp_path),
                                       PLACES_COUNTRIES="LU")}  # a short seed-places
    proc, lines = start_make_run(env)
    try:
        deadline = time.monotonic() + 90
        while not any("Ctrl-C stops everything" in line for line in lines):
            assert proc.poll() is None and time.monotonic() < deadline, "".join(lines)
            time.sleep(0.1)
        banner = [line.split()[0] for line in lines if line.startswith("  ")
                  and line.split()[0] in {"gateway", "auth", "realtime"}]
        assert banner == ["gateway", "auth", "realtime"], "".join(lines)
        url = f"http://127.0.0.1:{ports['GATEWAY_PORT']}"
        assert any(line.startswith(f"  gateway   {url}") for line in lines)
        assert requests.get(url, timeout=5).text == FILES["index.html"]
        assert requests.get(f"{url}/users/profile", timeout=5).status_code == 401
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole process group
        assert proc.wait(30) == 0, "".join(lines)
        assert not any(port_open(port) for port in ports.values())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        db_client.drop_database(database)

"""Production behaviour of served processes: JSON logs with request ids and no secrets,
and graceful shutdown on SIGTERM, under gunicorn (deploy/ configs) and the dev servers."""
import json
import logging
import signal
import socket
import time

import pytest
import requests

from devserver.processes import port_open, stop_all
from shared.logging import JsonFormatter, redact
from tests.conftest import serve
from tests.factories import make_user, token_for
from tests.gateway_support import gunicorn, log_text
from tests.sockets import RecordingClient

pytestmark = pytest.mark.timeout(180)
PASSWORD = "Sup3r-Secret-Passw0rd"


@pytest.fixture(scope="module")
def auth(mongo_uri, tmp_path_factory):
    service = gunicorn("auth_service", mongo_uri, tmp_path_factory.mktemp("logs")).start(60)
    yield service
    stop_all([service])


def log_lines(service):
    return [json.loads(line) for line in log_text(service).splitlines() if line.startswith("{")]


def access_line(service, request_id):
    for _ in range(40):
        for line in log_lines(service):
            if line["logger"] == "ridewire.access" and line["request_id"] == request_id:
                return line
        time.sleep(0.05)
    raise AssertionError(f"no access log line for {request_id}")


def test_logs_are_json_lines_with_an_access_line_per_request(auth):
    response = requests.get(f"{auth.url}/users/profile", headers={"X-Request-ID": "req-42"})
    assert response.status_code == 401
    assert response.headers["X-Request-ID"] == "req-42"
    line = access_line(auth, "req-42")
    assert {"ts", "level", "logger", "message"} <= set(line)
    assert (line["method"], line["path"], line["status"]) == ("GET", "/users/profile", 401)
    assert isinstance(line["duration_ms"], float)
    lines = log_text(auth).splitlines()
    assert lines and all(json.loads(text)["level"] for text in lines)  # nothing but JSON


@pytest.mark.parametrize("supplied", [None, "", "has spaces", "x" * 200, "é-unicode"])
def test_a_missing_or_unsafe_request_id_is_replaced(auth, supplied):
    headers = {} if supplied is None else {"X-Request-ID": supplied.encode().decode("latin-1")}
    response = requests.get(f"{auth.url}/healthz", headers=headers)
    generated = response.headers["X-Request-ID"]
    assert generated != supplied and len(generated) == 32 and int(generated, 16) >= 0


def test_no_password_or_token_reaches_the_log(auth, db):
    registered = requests.post(f"{auth.url}/users/register", json={
        "fullname": {"firstname": "Logan"}, "email": "logan@example.com", "password": PASSWORD})
    assert registered.status_code == 201
    token, refresh = registered.json()["token"], registered.json()["refreshToken"]
    requests.post(f"{auth.url}/users/login",
                  json={"email": "logan@example.com", "password": PASSWORD + "x"})
    requests.get(f"{auth.url}/users/profile", headers={"Authorization": f"Bearer {token}"})
    requests.get(f"{auth.url}/users/profile?token={token}", headers={"X-Request-ID": "q-token"})
    requests.post(f"{auth.url}/auth/refresh", json={"refreshToken": refresh})
    access_line(auth, "q-token")
    text = log_text(auth)
    for secret in (PASSWORD, token, token.split(".")[2], refresh):
        assert secret not in text


def test_redaction_of_anything_that_looks_like_a_secret():
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXZhbHVl"
    assert jwt not in redact(f"Bearer {jwt}")
    for text in ('{"password": "hunter22"}', "password=hunter22&x=1", "newPassword: hunter22",
                 "refreshToken='hunter22'", "otp=hunter22"):
        assert "hunter22" not in redact(text), text
    assert redact("token expired for user 12") == "token expired for user 12"


def test_formatter_puts_extras_and_tracebacks_in_the_object():
    try:
        raise ValueError(f"bad password=hunter22 {'eyJabcdef.eyJabcdef.sig'}")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", ("job",),
                                   exc_info=__import__("sys").exc_info())
    record.job_id = 7
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "failed job" and entry["job_id"] == 7
    assert "ValueError" in entry["exc"] and "hunter22" not in entry["exc"]


# Graceful shutdown ---------------------------------------------------------------------

def start(kind, module, mongo_uri, tmp_path, **env):
    env.setdefault("GRACEFUL_TIMEOUT", "30")
    if kind == "gunicorn":
        return gunicorn(module, mongo_uri, tmp_path, **env).start(60)
    return serve(module, mongo_uri, tmp_path, **env)


def half_sent_login(port):
    """A request whose body is not all sent yet: (socket, the rest of the body)."""
    body = json.dumps({"email": "nobody@example.com", "password": "wrong-pass"}).encode()
    head = (f"POST /users/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"Connection: close\r\n\r\n").encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    sock.sendall(head + body[:10])
    return sock, body[10:]


def read_all(sock):
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def wait_for_exit(service, timeout):
    deadline = time.monotonic() + timeout
    while service.running() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not service.running(), f"{service.name} still running after {timeout}s"
    return service.proc.returncode


@pytest.mark.parametrize("kind", ["gunicorn", "dev"])
def test_sigterm_refuses_new_connections_and_finishes_in_flight_requests(kind, mongo_uri, db,
                                                                         tmp_path):
    service = start(kind, "auth_service", mongo_uri, tmp_path)
    try:
        sock, rest = half_sent_login(service.port)
        time.sleep(0.3)  # the server has the request line and headers
        service.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while port_open(service.port) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not port_open(service.port)  # no new connections
        sock.sendall(rest)
        response = read_all(sock)
        sock.close()
        assert response.startswith(b"HTTP/1.1 401"), response[:200]
        assert b"Invalid email or password" in response
        assert wait_for_exit(service, 15) == 0
        assert '"message": "stopped"' in log_text(service)  # Mongo (and Redis) closed
    finally:
        service.kill()


@pytest.mark.parametrize("kind", ["gunicorn", "dev"])
def test_sigterm_closes_sockets_so_clients_can_reconnect_elsewhere(kind, mongo_uri, db,
                                                                   tmp_path):
    service = start(kind, "realtime_service", mongo_uri, tmp_path)
    user = make_user(db)
    clients = [RecordingClient().connect(service.url, token_for(user), transports=transports)
               for transports in (("websocket",), ("polling",))]
    try:
        for client in clients:
            client.wait_for("getOnlineUsers", lambda ids: str(user["_id"]) in ids)
        started = time.monotonic()
        service.proc.send_signal(signal.SIGTERM)
        # Well before GRACEFUL_TIMEOUT (30 s): the server closed the sockets itself
        # rather than waiting for the clients to go.
        assert wait_for_exit(service, 15) == 0
        assert time.monotonic() - started < 15
        deadline = time.monotonic() + 5
        while any(c.connected for c in clients) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(c.connected for c in clients)
        logs = log_text(service)
        assert "shutting down" in logs and '"message": "stopped"' in logs
    finally:
        for client in clients:
            client.disconnect()
        service.kill()

"""Slow-header connections: every server in front of the services
closes a connection that has not sent its request's head within HEADER_TIMEOUT
seconds: the development servers and `make run`'s gateway, and gunicorn as `make serve`
runs it; all with the production configuration. Socket.IO connections, whose heads
came in at once, are not affected."""
import socket
import time

import jwt
import pytest

from tests.harness import GunicornService, free_port

from ..conftest import service_env
from ..factories import make_captain
from ..gateway_stack import start_stack, stop_stack
from ..sockets import RecordingClient
from .forge import claims

SECRET = "a-production-secret-of-at-least-32-chars"
HEADER_TIMEOUT = 2
MARGIN = 2.0  # a loaded machine
CONNECTIONS = 40
PRODUCTION = {"APP_ENV": "production", "JWT_SECRET_KEY": SECRET, "RATELIMIT_ENABLED": "true",
              "HEADER_TIMEOUT": str(HEADER_TIMEOUT), "LOG_LEVEL": "WARNING"}


@pytest.fixture(scope="module")
def dev_stack(mongo_uri, tmp_path_factory):
    """Both development servers and the gateway in front of them."""
    stack, processes = start_stack(mongo_uri, tmp_path_factory.mktemp("slow-dev"),
                                   TRUSTED_PROXY_HOPS=1, **PRODUCTION)
    yield {"gateway": stack.url, "auth": processes[0].url, "realtime": processes[1].url}
    stop_stack(processes)


@pytest.fixture(scope="module")
def gunicorn(mongo_uri, tmp_path_factory):
    """Both services under gunicorn with deploy/gunicorn_*.py, as `make serve` runs them."""
    logs = tmp_path_factory.mktemp("slow-gunicorn")
    started = {}
    for module, variable in (("auth_service", "AUTH_PORT"), ("realtime_service", "REALTIME_PORT")):
        port = free_port()
        env = service_env(mongo_uri, **{variable: port}, AUTH_WORKERS=1, **PRODUCTION)
        service = GunicornService(module, port, env, log_path=logs / f"{module}.log")
        started[module.removesuffix("_service")] = service.start(60)
    yield {name: service.url for name, service in started.items()}
    for service in started.values():
        service.stop()


def port_of(url):
    return int(url.rsplit(":", 1)[1])


def open_slow(port, count):
    """`count` connections that each sent half a request line."""
    opened = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"GET /heal")
        opened.append(sock)
    return opened


def closed_by(sock, deadline):
    """Whether the server closed `sock` (after any answer) before `deadline`."""
    try:
        while True:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            if not sock.recv(4096):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False
    finally:
        sock.close()


def assert_slow_heads_closed(url):
    started = time.monotonic()
    opened = open_slow(port_of(url), CONNECTIONS)
    drip = open_slow(port_of(url), 1)[0]  # a byte now and then: the deadline is for the head
    while time.monotonic() - started < HEADER_TIMEOUT + 0.5:
        try:
            drip.sendall(b"l")
        except OSError:
            break
        time.sleep(0.3)
    deadline = started + HEADER_TIMEOUT + MARGIN
    still_open = [sock for sock in [*opened, drip] if not closed_by(sock, deadline)]
    assert not still_open, f"{len(still_open)} of {CONNECTIONS + 1} slow heads still open"


def assert_a_head_in_time_is_served(url, path="/healthz"):
    """A head that takes less than the timeout, in two pieces, is answered as usual."""
    with socket.create_connection(("127.0.0.1", port_of(url)), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\n".encode())
        time.sleep(HEADER_TIMEOUT / 2)
        sock.sendall(b"Host: localhost\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]


def assert_sockets_outlive_the_timeout(url, db, transport):
    """A Socket.IO connection stays up past HEADER_TIMEOUT and answers events."""
    captain = make_captain(db)
    client = RecordingClient().connect(url, jwt.encode(claims(captain, role="captain"),
                                                       SECRET, algorithm="HS256"),
                                       transports=(transport,))
    try:
        time.sleep(HEADER_TIMEOUT + MARGIN)
        assert client.connected
        ack = client.client.call("update-location-captain",
                                 {"location": {"lat": 12.0, "lng": 77.0}}, timeout=5)
        assert ack == {"ok": True}
    finally:
        client.disconnect()


def assert_closes_slow_heads_only(url, db, path="/healthz", sockets=False):
    assert_slow_heads_closed(url)
    assert_a_head_in_time_is_served(url, path)
    if sockets:  # long connections, past their heads, outlive the timeout
        for transport in ("websocket", "polling"):
            assert_sockets_outlive_the_timeout(url, db, transport)


@pytest.mark.parametrize("server", ["auth", "realtime", "gateway"])
def test_the_development_servers_close_slow_heads(dev_stack, db, server):
    path = "/gateway/healthz" if server == "gateway" else "/healthz"
    assert_closes_slow_heads_only(dev_stack[server], db, path, sockets=server != "auth")


@pytest.mark.parametrize("server", ["auth", "realtime"])
def test_gunicorn_closes_slow_heads(gunicorn, db, server):
    assert_closes_slow_heads_only(gunicorn[server], db, sockets=server == "realtime")

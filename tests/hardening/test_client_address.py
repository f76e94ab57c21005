"""The client address the services see behind `make run`'s gateway, with production
settings (APP_ENV=production, one trusted proxy hop, rate limits on): the address the
client connected from, never what it wrote in X-Forwarded-For, so that one client
cannot dodge a limit or be logged from someone else's address; and `make run` itself
trusting its gateway's hop, so that one client's failures do not limit another; and the
Socket.IO requests' address made out like the HTTP routes' one."""
import json
import socket
import sys

import pytest
import requests
import socketio

from tests.conftest import serve
from tests.devgateway_support import exchange
from tests.factories import PASSWORD, make_user
from tests.gateway_stack import start_stack, stop_stack
from tests.system.test_startup import Run, assert_no_traceback, run_env

SECRET = "a-production-secret-of-at-least-32-chars"
REFRESH_LIMIT = 5


@pytest.fixture(scope="module")
def stack(mongo_uri, tmp_path_factory):
    stack, processes = start_stack(
        mongo_uri, tmp_path_factory.mktemp("client-address"), APP_ENV="production",
        JWT_SECRET_KEY=SECRET, TRUSTED_PROXY_HOPS=1, RATELIMIT_ENABLED="true",
        REFRESH_RATE_LIMIT=f"{REFRESH_LIMIT} per minute")
    yield stack
    stop_stack(processes)


UPGRADE = ("GET /users/profile HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           "Sec-WebSocket-Version: 13\r\n\r\n")


def post_text(path, body, address):
    """A raw POST of JSON `body` claiming to come from `address`."""
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: {address}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n{body}")


def after_an_upgrade(url, *smuggled, quiet=3.0):
    """Everything the gateway answers to a websocket upgrade that the service refuses
    (401: not 101), followed on the same connection by the `smuggled` requests: no
    tunnel, so the gateway parses them as requests of their own, from the client's
    real address."""
    return exchange(int(url.rsplit(":", 1)[1]), UPGRADE + "".join(smuggled), quiet)


def test_requests_after_a_refused_upgrade_do_not_dodge_the_refresh_limit(stack, db):
    body = '{"refreshToken": "%s"}' % ("x" * 43)
    smuggled = [post_text("/auth/refresh", body, f"203.0.113.{n}")
                for n in range(REFRESH_LIMIT + 2)]
    received = after_an_upgrade(stack.url, *smuggled)
    assert received.startswith(b"HTTP/1.1 401"), received
    assert b"HTTP/1.1 429" in received, received  # counted, whatever address they claimed
    statuses = [requests.post(f"{stack.url}/auth/refresh", json={"refreshToken": "x" * 43},
                              headers={"X-Forwarded-For": f"203.0.113.{n}"},
                              timeout=10).status_code
                for n in range(REFRESH_LIMIT + 1)]
    assert statuses[-1] == 429, statuses


def test_a_login_is_logged_from_the_address_it_came_from(stack, db):
    user = make_user(db)
    credentials = {"email": user["email"], "password": PASSWORD}
    after_an_upgrade(stack.url, post_text("/users/login", json.dumps(credentials),
                                          "203.0.113.9"))
    login = requests.post(f"{stack.url}/users/login", json=credentials, timeout=10,
                          headers={"X-Forwarded-For": "203.0.113.9"})
    assert login.status_code == 200, login.text
    history = requests.get(f"{stack.url}/users/activity", timeout=10,
                           headers={"Authorization": f"Bearer {login.json()['token']}"})
    logins = [entry for entry in history.json()["activities"] if entry["action"] == "login"]
    assert [entry["meta"]["ip"] for entry in logins] == ["127.0.0.1", "127.0.0.1"]


def login_from(source, port, email, password):
    """The status of a login sent to the gateway on `port` from the local address
    `source` (each 127.x address is another client to the gateway)."""
    body = f'{{"email": "{email}", "password": "{password}"}}'
    request = (f"POST /users/login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
               f"Connection: close\r\n\r\n{body}")
    with socket.create_connection(("127.0.0.1", port), timeout=30,
                                  source_address=(source, 0)) as sock:
        sock.sendall(request.encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return int(answer.split()[1])


@pytest.mark.timeout(180)
def test_make_run_tells_one_client_from_another(tmp_path):
    """Behind `make run`'s gateway every client was 127.0.0.1: ten wrong logins of one
    client made another client's right login a 429."""
    env = run_env(tmp_path, RATELIMIT_ENABLED="true", LOGIN_RATE_LIMIT="10 per minute",
                  BCRYPT_ROUNDS="4")
    run = Run(env, [sys.executable, "-m", "devserver"])
    try:
        run.wait_for("Ctrl-C stops everything.")
        port = int(env["GATEWAY_PORT"])
        registered = requests.post(
            f"http://127.0.0.1:{port}/users/register", timeout=30,
            json={"fullname": {"firstname": "Owner"}, "email": "owner@example.com",
                  "password": PASSWORD})
        assert registered.status_code == 201, registered.text
        wrong = [login_from("127.0.0.2", port, "stranger@example.com", "wrong-password")
                 for _ in range(11)]
        assert wrong[-1] == 429, wrong
        assert login_from("127.0.0.3", port, "owner@example.com", PASSWORD) == 200
    finally:
        run.ctrl_c()
        run.finish()
    assert_no_traceback(run)


def anonymous_socket(url, address):
    """An anonymous socket of a page of the service's own origin, through a proxy that
    says the client is `address`."""
    client = socketio.Client(reconnection=False)
    client.connect(url, transports=["polling"],
                   headers={"Origin": url, "X-Forwarded-For": address})
    return client


def test_socket_events_are_counted_per_client_behind_the_proxy(mongo_uri, tmp_path, db):
    """Socket.IO requests skipped the trusted hop: behind the gateway every anonymous
    socket had the gateway's address, so one of them spent every other's budget."""
    service = serve("realtime_service", mongo_uri, tmp_path, TRUSTED_PROXY_HOPS=1,
                    RATELIMIT_ENABLED="true", SOCKET_EVENT_RATE_LIMIT="2 per minute")
    sockets = []
    try:
        sockets = [anonymous_socket(service.url, f"203.0.113.{n}") for n in (1, 2)]
        event = ("update-location-captain", {"location": {"lat": 1, "lng": 2}})
        first = [sockets[0].call(*event, timeout=5)["message"] for _ in range(3)]
        assert first == ["Authentication required"] * 2 + ["Too many events, try again later"]
        assert sockets[1].call(*event, timeout=5)["message"] == "Authentication required"
    finally:
        for client in sockets:
            client.disconnect()
        service.stop()

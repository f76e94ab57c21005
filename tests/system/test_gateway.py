"""The docker-compose topology without Docker: Debian's nginx running deploy/nginx.conf
in front of one auth and two realtime gunicorn processes (deploy/ configs) that share
Redis, over the test database. Clients go through the gateway only."""
import json
import signal
import time
import uuid

import pytest
import requests
import socketio

from devserver.processes import start_together, stop_all
from tests.factories import make_user, token_for
from tests.gateway_support import Nginx, gunicorn, log_text
from tests.harness import RedisServer
from tests.sockets import RecordingClient, payload_of

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def topology(mongo_uri, tmp_path_factory):
    directory = tmp_path_factory.mktemp("gateway")
    started = []
    try:
        redis_server = RedisServer(directory).start()
        started.append(redis_server)
        env = {"REDIS_URL": redis_server.url, "TRUSTED_PROXY_HOPS": "1",
               "GRACEFUL_TIMEOUT": "3", "AUTH_WORKERS": "2"}
        auth = gunicorn("auth_service", mongo_uri, directory, **env)
        realtimes = [gunicorn("realtime_service", mongo_uri, directory, **env) for _ in range(2)]
        started.extend(start_together([auth, *realtimes], 60))
        nginx = Nginx(directory, [auth.port], [r.port for r in realtimes]).start()
        started.append(nginx)
        yield {"url": nginx.url, "nginx": nginx, "auth": auth, "realtimes": realtimes}
    finally:
        stop_all(started)


def backend_of(topology, request_id):
    """Index of the realtime process whose access log has `request_id`."""
    for _ in range(50):
        for index, service in enumerate(topology["realtimes"]):
            if f'"request_id": "{request_id}"' in log_text(service):
                return index
        time.sleep(0.05)
    raise AssertionError(f"no realtime process logged {request_id}")


def access_line(service, request_id, timeout=10):
    """The access-log line of `request_id` in the log the service's workers share, polled
    up to a deadline rather than read once after a fixed sleep."""
    deadline = time.monotonic() + timeout
    while True:
        for text in log_text(service).splitlines():
            if f'"request_id": "{request_id}"' in text and "ridewire.access" in text:
                return json.loads(text)
        assert time.monotonic() < deadline, f"no access log line for {request_id}"
        time.sleep(0.05)


def handshake(base, cookie):
    """An Engine.IO long-polling handshake through the gateway: (sid, request id)."""
    request_id = f"probe-{uuid.uuid4().hex}"
    response = requests.get(f"{base}/socket.io/", params={"EIO": "4", "transport": "polling"},
                            headers={"Cookie": f"rw_route={cookie}", "X-Request-ID": request_id},
                            timeout=5)
    assert response.status_code == 200, response.text
    assert response.headers["X-Request-ID"] == request_id
    assert f"rw_route={cookie}" in response.headers["Set-Cookie"]
    return json.loads(response.text[1:])["sid"], request_id


@pytest.fixture(scope="module")
def cookies(topology):
    """One sticky cookie value per realtime process (found by asking the gateway)."""
    found = {}
    for n in range(40):
        cookie = f"client-{n}"
        _, request_id = handshake(topology["url"], cookie)
        found.setdefault(backend_of(topology, request_id), cookie)
        if len(found) == 2:
            return [found[0], found[1]]
    raise AssertionError(f"the gateway sent every session to one process: {found}")


def engineio_post(base, sid, cookie, payload):
    return requests.post(f"{base}/socket.io/", params={"EIO": "4", "transport": "polling",
                                                       "sid": sid},
                         data=payload, headers={"Cookie": f"rw_route={cookie}",
                                                "Content-Type": "text/plain;charset=UTF-8"},
                         timeout=5)


def poll_until_connected(base, sid, cookie, timeout=10):
    """Long-poll the session until its CONNECT ack, which a broadcast in flight may precede."""
    deadline = time.monotonic() + timeout
    while True:
        poll = requests.get(f"{base}/socket.io/", params={
            "EIO": "4", "transport": "polling", "sid": sid},
            headers={"Cookie": f"rw_route={cookie}"}, timeout=5)
        assert poll.status_code == 200, poll.text
        if any(packet.startswith("40{") for packet in poll.text.split("\x1e")):
            return
        assert time.monotonic() < deadline, f"no CONNECT ack; last poll {poll.text!r}"


def test_routes_reach_the_right_service(topology):
    base = topology["url"]
    assert requests.get(f"{base}/gateway/healthz", timeout=5).json() == {"status": "ok"}
    assert requests.get(f"{base}/users/profile", timeout=5).status_code == 401
    assert requests.get(f"{base}/captains/profile", timeout=5).status_code == 401
    assert requests.post(f"{base}/auth/refresh", json={}, timeout=5).status_code == 400
    assert requests.get(f"{base}/messages/users", timeout=5).status_code == 401
    assert requests.get(f"{base}/rides", timeout=5).status_code == 401
    auth_spec = requests.get(f"{base}/auth-service/openapi.json", timeout=5).json()
    realtime_spec = requests.get(f"{base}/realtime-service/openapi.json", timeout=5).json()
    assert "/users/register" in auth_spec["paths"]
    assert "/messages/send/{other_id}" in realtime_spec["paths"]
    assert requests.get(f"{base}/realtime-service/docs", timeout=5).status_code == 200
    missing = requests.get(f"{base}/nothing-here", timeout=5)
    assert missing.status_code == 404 and missing.json() == {"message": "Not found"}


def test_request_id_goes_through_to_the_service_and_back(topology):
    base = topology["url"]
    mine = requests.get(f"{base}/users/profile", headers={"X-Request-ID": "trace-gw-1"},
                        timeout=5)
    assert mine.headers["X-Request-ID"] == "trace-gw-1"
    generated = requests.get(f"{base}/users/profile", timeout=5).headers["X-Request-ID"]
    assert len(generated) == 32
    for request_id in ("trace-gw-1", generated):
        line = access_line(topology["auth"], request_id)
        assert line["path"] == "/users/profile" and line["status"] == 401
        # The client's address, from the gateway's X-Forwarded-For.
        assert line["forwarded_for"] == "127.0.0.1"


def test_gateway_answers_json_when_the_body_is_too_large(topology):
    response = requests.post(f"{topology['url']}/users/login", data=b"x" * (9 * 1024 * 1024),
                             headers={"Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 413
    assert response.json() == {"message": "Request body too large"}


def test_one_socketio_session_stays_on_one_process(topology, cookies, db):
    """Each long-polling request of a session reaches the process that holds it; the
    same requests with the other process's cookie are refused there."""
    base = topology["url"]
    user = make_user(db)
    for mine, other in ((cookies[0], cookies[1]), (cookies[1], cookies[0])):
        sid, _ = handshake(base, mine)
        connect = "40" + json.dumps({"token": token_for(user)})
        assert engineio_post(base, sid, mine, connect).text == "OK"
        poll_until_connected(base, sid, mine)
        assert engineio_post(base, sid, other, "41").status_code == 400
        assert engineio_post(base, sid, mine, "41").text == "OK"


def test_polling_and_websocket_clients_on_two_processes_chat(topology, cookies, db):
    """A long-polling client on one process and a websocket client on the other see each
    other online and get each other's messages (Redis carries the pushes)."""
    base = topology["url"]
    alice, bob = make_user(db, "Alice"), make_user(db, "Bobby")
    polling = RecordingClient().connect(base, token_for(alice), transports=("polling",),
                                        headers={"Cookie": f"rw_route={cookies[0]}"})
    websocket = RecordingClient().connect(base, token_for(bob), transports=("websocket",),
                                          headers={"Cookie": f"rw_route={cookies[1]}"})
    try:
        assert polling.client.transport() == "polling"
        assert websocket.client.transport() == "websocket"
        alice_id, bob_id = str(alice["_id"]), str(bob["_id"])
        websocket.wait_for("getOnlineUsers", lambda ids: alice_id in ids, timeout=10)
        polling.wait_for("getOnlineUsers", lambda ids: bob_id in ids, timeout=10)

        sent = requests.post(f"{base}/messages/send/{bob_id}", json={"text": "hi from polling"},
                             headers={"Authorization": f"Bearer {token_for(alice)}"}, timeout=5)
        assert sent.status_code == 201, sent.text
        got = websocket.wait_for("newMessage", lambda m: m["text"] == "hi from polling")
        assert got["senderId"] == alice_id

        reply = requests.post(f"{base}/messages/send/{alice_id}", json={"text": "hi back"},
                              headers={"Authorization": f"Bearer {token_for(bob)}"}, timeout=5)
        assert reply.status_code == 201, reply.text
        assert polling.wait_for("newMessage", lambda m: m["text"] == "hi back")["senderId"] \
            == bob_id
    finally:
        polling.disconnect()
        websocket.disconnect()


def test_polling_client_upgrades_to_websocket_through_the_gateway(topology, cookies, db):
    user = make_user(db)
    client = RecordingClient().connect(topology["url"], token_for(user),
                                       transports=("polling", "websocket"))
    try:
        deadline = time.monotonic() + 5
        while client.client.transport() != "websocket" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.client.transport() == "websocket"
        client.wait_for("getOnlineUsers", lambda ids: str(user["_id"]) in ids)
    finally:
        client.disconnect()


def test_connection_without_a_token_is_refused_through_the_gateway(topology):
    client = RecordingClient()
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(topology["url"], None, transports=("polling",))
    assert client.connect_error and "message" in client.connect_error


def test_clients_move_to_the_other_process_when_one_stops(topology, cookies, db):
    """SIGTERM to a realtime process: its clients are disconnected at once, reconnect
    through the gateway to the other process, and get their pushes there.
    (Last in this module: it stops a process, then starts it again.)"""
    base, leaving = topology["url"], topology["realtimes"][1]
    rider, friend = make_user(db, "Rider"), make_user(db, "Friend")
    client = socketio.Client(reconnection=True, reconnection_delay=0.2,
                             reconnection_delay_max=0.5)
    connects, messages = [], []
    client.on("connect", lambda: connects.append(time.monotonic()))
    client.on("newMessage", lambda *args: messages.append(payload_of(args)))
    client.connect(base, auth={"token": token_for(rider)}, transports=["polling"],
                   headers={"Cookie": f"rw_route={cookies[1]}"}, wait_timeout=5)
    try:
        leaving.proc.send_signal(signal.SIGTERM)
        leaving.proc.wait(15)
        deadline = time.monotonic() + 15
        while (len(connects) < 2 or not client.connected) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(connects) >= 2 and client.connected
        sent = requests.post(f"{base}/messages/send/{rider['_id']}", json={"text": "still here"},
                             headers={"Authorization": f"Bearer {token_for(friend)}"}, timeout=5)
        assert sent.status_code == 201, sent.text
        deadline = time.monotonic() + 5
        while not messages and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [m["text"] for m in messages] == ["still here"]
    finally:
        client.disconnect()
        leaving.start(60)

"""The socket identity rules of docs/compat.md, against a served realtime process:
the `token` cookie authenticates a handshake, a same-origin page may connect
anonymously (and is told nothing), a client-stated `userId` or `join` is honoured only
when it names the authenticated account, and nothing else is trusted."""
import time

import pytest
import requests
import socketio

from ..factories import make_captain, make_user, token_for
from ..sockets import RecordingClient, payload_of
from ..waiting import wait_until


@pytest.fixture
def url(served_realtime, db):
    return served_realtime.url


def cookie(token):
    return {"Cookie": f"token={token}"}


def send_message(url, sender, receiver_id, text="hi"):
    response = requests.post(f"{url}/messages/send/{receiver_id}", json={"text": text},
                             headers={"Authorization": f"Bearer {token_for(sender)}"},
                             timeout=5)
    assert response.status_code == 201
    return response.json()["newMessage"]


def refused(url, **kwargs):
    client = RecordingClient()
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(url, **kwargs)
    return client.connect_error



@pytest.mark.parametrize("transports", [["websocket"], ["polling"]])
def test_the_token_cookie_authenticates_the_handshake(url, db, clients, transports):
    alice, bob = make_user(db), make_user(db)
    socket = clients(url, headers=cookie(token_for(alice)), transports=transports)
    message = send_message(url, bob, alice["_id"])
    assert socket.wait_for("newMessage")["_id"] == message["_id"]
    assert db.users.find_one({"_id": alice["_id"]})["socketId"] == socket.client.get_sid()


def test_a_bad_cookie_is_refused_even_from_our_own_origin(url, db):
    error = refused(url, headers={**gateway_page(url), **cookie("not-a-token")})
    assert error == {"message": "Invalid token"}


def gateway_page(url):
    """The headers of a handshake from a page of the gateway's origin, as proxied."""
    return {"Origin": url, "X-Forwarded-For": "127.0.0.1"}


def test_a_same_origin_page_may_connect_anonymously_and_hears_nothing(url, db, clients):
    alice, bob = make_user(db), make_user(db)
    anonymous = clients(url, headers=gateway_page(url))
    assert anonymous.connected
    send_message(url, bob, alice["_id"])
    ack = anonymous.client.call("update-location-captain",
                                {"location": {"lat": 1, "lng": 2}}, timeout=5)
    assert ack == {"ok": False, "message": "Authentication required"}
    time.sleep(0.3)
    assert "newMessage" not in anonymous.events and "getOnlineUsers" not in anonymous.events


@pytest.mark.parametrize("headers", [
    {}, {"Origin": "http://localhost:5173", "X-Forwarded-For": "127.0.0.1"}],
    ids=["a direct API client", "a page of another allowed origin"])
def test_without_a_credential_anything_but_our_own_page_is_refused(url, db, headers):
    assert refused(url, headers=headers) == {"message": "Authentication required"}


def test_a_user_id_in_the_query_must_name_the_authenticated_account(url, db, clients):
    alice, bob = make_user(db), make_user(db)
    error = refused(url, headers=cookie(token_for(alice)), query=f"userId={bob['_id']}")
    assert error == {"message": "userId does not match the authenticated account"}
    own = clients(url, headers=cookie(token_for(alice)), query=f"userId={alice['_id']}")
    assert own.connected


def test_a_join_naming_another_account_is_refused_and_closes_the_transport(url, db):
    alice, bob = make_user(db), make_user(db)
    socket = RecordingClient()
    socket.client = socketio.Client(reconnection=False)
    socket.client.on("*", socket._record)
    socket.connect(url, token_for(alice))
    ack = socket.client.call("join", {"userId": str(bob["_id"]), "userType": "user"},
                             timeout=5)
    assert ack["ok"] is False
    assert wait_until(lambda: not socket.connected)  # the client would reconnect
    send_message(url, alice, bob["_id"])
    assert "newMessage" not in socket.events


def test_an_anonymous_sockets_join_closes_its_transport_for_a_cookie_handshake(url, db):
    """The Uber clone's socket exists before login: its `join` after login closes the
    transport (socket.io-client then reconnects by itself, with the cookie the login
    set: tests/e2e/test_compat_page.py shows it in Chromium)."""
    alice, bob = make_user(db), make_user(db)
    client = socketio.Client(reconnection=False)
    received = []
    client.on("newMessage", lambda *args: received.append(payload_of(args)))
    client.connect(url, headers=gateway_page(url), transports=["polling"])
    try:
        client.emit("join", {"userId": str(alice["_id"]), "userType": "user"})
        assert wait_until(lambda: not client.connected)
        client.connect(url, headers={**gateway_page(url), **cookie(token_for(alice))},
                       transports=["polling"])
        send_message(url, bob, alice["_id"])
        assert wait_until(lambda: received)
    finally:
        client.disconnect()


def test_a_captains_join_puts_it_on_duty_until_its_last_connection_closes(url, db, clients):
    captain = make_captain(db, status="inactive", location=(12.97, 77.59))
    socket = clients(url, headers=cookie(token_for(captain, "captain")))
    ack = socket.client.call("join", {"userId": str(captain["_id"]), "userType": "captain"},
                             timeout=5)
    assert ack == {"ok": True}
    assert db.captains.find_one({"_id": captain["_id"]})["status"] == "active"
    socket.disconnect()
    assert wait_until(
        lambda: db.captains.find_one({"_id": captain["_id"]})["status"] == "inactive")


def test_a_captain_on_duty_by_its_own_choice_stays_on_duty(url, db, clients):
    captain = make_captain(db, status="active", location=(12.97, 77.59))
    socket = clients(url, headers=cookie(token_for(captain, "captain")))
    socket.client.call("join", {"userId": str(captain["_id"]), "userType": "captain"},
                       timeout=5)
    socket.disconnect()
    time.sleep(0.5)
    assert db.captains.find_one({"_id": captain["_id"]})["status"] == "active"


def test_a_client_sent_disconnect_event_changes_nothing(url, db, clients):
    """A client may emit an event named `disconnect`: it is not a disconnection, so the
    socket stays tracked (and revocable) and online."""
    alice, bob = make_user(db), make_user(db)
    socket = clients(url, token_for(alice))
    socket.emit("disconnect")
    time.sleep(0.3)
    assert db.users.find_one({"_id": alice["_id"]})["socketId"] == socket.client.get_sid()
    response = requests.post(f"{url}/messages/send/{alice['_id']}",
                             json={"text": "still there"},
                             headers={"Authorization": f"Bearer {token_for(bob)}"}, timeout=5)
    assert response.status_code == 201
    assert socket.wait_for("newMessage")["text"] == "still there"


def test_a_client_sent_connect_event_cannot_change_the_identity(url, db, clients):
    alice, bob, carol = make_user(db), make_user(db), make_user(db)
    socket = clients(url, token_for(alice))
    # Flask-SocketIO hands a connect handler its second argument as the `auth` data.
    socket.client.emit("connect", ({}, {"token": token_for(bob)}))
    send_message(url, carol, bob["_id"], text="for bob")
    time.sleep(0.3)
    assert "newMessage" not in socket.events
    assert db.users.find_one({"_id": bob["_id"]})["socketId"] is None


def test_a_transport_that_never_joins_the_namespace_is_closed(mongo_uri, tmp_path, db):
    """A raw Engine.IO websocket that answers pings but never sends the Socket.IO
    CONNECT packet is closed after SOCKET_CONNECT_TIMEOUT."""
    import websocket

    from ..conftest import serve

    service = serve("realtime_service", mongo_uri, tmp_path, SOCKET_CONNECT_TIMEOUT="1")
    raw = None
    try:
        raw = websocket.create_connection(
            service.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket",
            timeout=5)
        assert raw.recv().startswith("0")  # the Engine.IO open packet
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < 4:
            try:
                frame = raw.recv()
            except websocket.WebSocketConnectionClosedException:
                closed = True
                break
            if frame == "2":
                raw.send("3")  # answer pings, like a live client
            elif frame in ("1", ""):
                closed = True
                break
        assert closed and time.monotonic() - started < 3
    finally:
        if raw is not None:
            raw.close()  # an open connection would hold the service's stop
        service.stop()

"""The socket admission policy with real clients over the wire, through `make run`'s
gateway (which appends the client's address to X-Forwarded-For, TRUSTED_PROXY_HOPS=1):
at most SOCKET_MAX_PER_ACCOUNT sockets per account and SOCKET_MAX_PER_ADDRESS per client
address (the defaults, 10 and 50), and anonymous sockets closed after
ANONYMOUS_SOCKET_SECONDS."""

import pytest
import requests
import socketio
import websocket

from ..factories import make_user, token_for
from ..gateway_stack import start_stack, stop_stack
from ..sockets import RecordingClient
from ..waiting import wait_until

ANONYMOUS_SECONDS = 2
PER_ACCOUNT = 10
PER_ADDRESS = 50


@pytest.fixture(scope="module")
def stack(mongo_uri, tmp_path_factory):
    stack, processes = start_stack(mongo_uri, tmp_path_factory.mktemp("socket-admission"),
                                   TRUSTED_PROXY_HOPS=1, LOG_LEVEL="WARNING",
                                   ANONYMOUS_SOCKET_SECONDS=ANONYMOUS_SECONDS)
    stack.realtime = processes[1]
    yield stack
    stop_stack(processes)


@pytest.fixture
def opened():
    """Sockets to close after the test: python-socketio clients and raw websockets."""
    sockets = []
    yield sockets
    for sock in sockets:
        if isinstance(sock, RecordingClient):
            sock.disconnect()
        else:
            sock.close()



def engineio_socket(url, headers=None):
    """A raw Engine.IO websocket that has not joined the namespace (yet)."""
    ws = websocket.create_connection(
        url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket",
        header=headers or {}, suppress_origin=True, timeout=5)
    assert ws.recv().startswith("0")
    return ws


def refused_handshakes(url):
    """The answers to a refused websocket handshake and a refused long-polling one."""
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        engineio_socket(url)
    polling = requests.get(f"{url}/socket.io/?EIO=4&transport=polling", timeout=5)
    return refused.value.status_code, (polling.status_code, polling.json())


def test_one_address_holds_at_most_fifty_sockets(stack, db, opened):
    """50 of 50 anonymous sockets opened through the gateway; every Engine.IO connection
    of an address counts, joined or not, with or without a token. (First in this module:
    it needs every socket of the address.)"""
    opened.append(RecordingClient().connect(stack.url, token_for(make_user(db))))
    for _ in range(PER_ADDRESS - 1):
        opened.append(engineio_socket(stack.url))
    assert refused_handshakes(stack.url) == (
        401, (401, {"message": "Too many connections from this address"}))
    # Another client address (a proxy that the realtime service trusts says so) is not
    # counted with this one.
    opened.append(engineio_socket(stack.realtime.url, {"X-Forwarded-For": "203.0.113.9"}))
    opened.pop(1).close()
    assert wait_until(lambda: _opens(stack.url, opened))


def _opens(url, opened):
    try:
        opened.append(engineio_socket(url))
    except websocket.WebSocketBadStatusException:
        return False
    return True


def test_one_account_holds_at_most_ten_sockets(stack, db, opened):
    """One token held 150 of 150 websockets, and each chat push went out 150 times."""
    token = token_for(make_user(db))
    for _ in range(PER_ACCOUNT):
        opened.append(RecordingClient().connect(stack.url, token))
    extra = RecordingClient()
    with pytest.raises(socketio.exceptions.ConnectionError):
        extra.connect(stack.url, token)
    assert extra.connect_error == {"message": "Too many connections for this account"}
    other_account = RecordingClient().connect(stack.url, token_for(make_user(db)))
    opened.append(other_account)
    assert other_account.connected
    opened.pop(0).disconnect()
    assert wait_until(lambda: _connects(stack.url, token, opened))


def _connects(url, token, opened):
    client = RecordingClient()
    try:
        client.connect(url, token)
    except socketio.exceptions.ConnectionError:
        return False
    opened.append(client)
    return True


def test_anonymous_sockets_are_closed_after_a_while(stack, db, opened):
    """The gateway's own page may connect without a token; such a socket is closed
    after ANONYMOUS_SOCKET_SECONDS, an authenticated one is not."""
    anonymous = RecordingClient().connect(stack.url, headers={"Origin": stack.url})
    user = RecordingClient().connect(stack.url, token_for(make_user(db)))
    opened += [anonymous, user]
    assert anonymous.connected
    assert wait_until(lambda: not anonymous.connected, timeout=ANONYMOUS_SECONDS + 5)
    assert user.connected

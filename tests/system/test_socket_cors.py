"""The origin check of Socket.IO handshakes, over both transports of a served realtime
process (Engine.IO answers them before the app sees anything)."""
import pytest
import requests
import socketio

from ..app.test_cors import ALLOWED, DENIED
from ..factories import make_user, token_for
from ..sockets import RecordingClient


@pytest.mark.parametrize("transport", ["polling", "websocket"])
def test_socket_handshake_from_allowed_origin_connects(served_realtime, db, transport):
    token = token_for(make_user(db))
    client = RecordingClient().connect(served_realtime.url, token, transports=[transport],
                                       headers={"Origin": ALLOWED})
    assert client.connected
    client.disconnect()


@pytest.mark.parametrize("transport", ["polling", "websocket"])
def test_socket_handshake_from_other_origin_is_refused(served_realtime, db, transport):
    token = token_for(make_user(db))
    with pytest.raises(socketio.exceptions.ConnectionError):
        RecordingClient().connect(served_realtime.url, token, transports=[transport],
                                  headers={"Origin": DENIED})


def test_polling_handshake_carries_cors_headers(served_realtime):
    url = served_realtime.url + "/socket.io/?EIO=4&transport=polling"
    allowed = requests.get(url, headers={"Origin": ALLOWED}, timeout=5)
    assert allowed.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert allowed.headers["Access-Control-Allow-Credentials"] == "true"
    assert requests.get(url, headers={"Origin": DENIED}, timeout=5).status_code == 400

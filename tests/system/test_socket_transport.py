"""The Engine.IO transport of realtime_service.sockets.transport, over the wire: pings
scheduled as timers (LeanSocket) keep coming as long as they are answered, a client
that stops answering is closed, and websockets read by their own handler
(InlineServer) still answer websocket pings, take messages split over many frames,
and end cleanly whichever side closes; compression only when configured."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import websocket

from ..conftest import serve
from ..factories import make_captain, token_for

PING_SECONDS = 1
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def url(mongo_uri, tmp_path_factory):
    service = serve("realtime_service", mongo_uri, tmp_path_factory.mktemp("transport"),
                    SOCKET_PING_INTERVAL=PING_SECONDS, SOCKET_PING_TIMEOUT=PING_SECONDS,
                    LOG_LEVEL="WARNING")
    yield service.url
    service.stop()


def engineio_socket(url, header=None):
    """A raw websocket past the Engine.IO handshake; (socket, the handshake's data)."""
    ws = websocket.create_connection(
        url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket",
        suppress_origin=True, timeout=10, header=header or [])
    opened = ws.recv()
    assert opened.startswith("0")
    return ws, json.loads(opened[1:])


def joined(url, db):
    """A captain's websocket, joined to the namespace with its token."""
    ws, _ = engineio_socket(url)
    ws.send("40" + json.dumps({"token": token_for(make_captain(db), "captain")}))
    answer = ws.recv()
    assert answer.startswith("40") and "sid" in json.loads(answer[2:])
    return ws


def test_pings_keep_coming_while_answered(url, db):
    ws = joined(url, db)
    for _ in range(3):
        assert ws.recv() == "2"
        ws.send("3")
    ws.close()


def test_the_handshake_announces_the_configured_heartbeat(url):
    ws, opened = engineio_socket(url)
    assert opened["pingInterval"] == PING_SECONDS * 1000
    assert opened["pingTimeout"] == PING_SECONDS * 1000
    ws.close()


def test_compression_offered_by_the_client_is_not_negotiated(url, db):
    """SOCKET_COMPRESSION is off by default: a browser's offer of permessage-deflate is
    declined, and every frame comes uncompressed."""
    ws, opened = engineio_socket(
        url, ["Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"])
    assert "sec-websocket-extensions" not in {name.lower() for name in ws.getheaders()}
    assert "sid" in opened
    ws.close()


def test_a_client_that_stops_answering_pings_is_closed(url, db):
    ws = joined(url, db)
    assert ws.recv() == "2"  # not answered
    received = []
    with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError)):
        while True:  # the server's close ends the loop; the socket's timeout fails it
            frame = ws.recv()
            if not frame:
                raise ConnectionError("closed")
            received.append(frame)
    assert set(received) <= {"2", "1"}, received
    ws.close()


def test_a_websocket_ping_is_answered_and_split_messages_are_joined(url, db):
    ws = joined(url, db)
    ws.ping(b"are you there")
    frame = ws.recv_data_frame(control_frame=True)[1]
    while frame.opcode != websocket.ABNF.OPCODE_PONG:
        frame = ws.recv_data_frame(control_frame=True)[1]
    assert frame.data == b"are you there"
    event = '421["update-location-captain",{"location":{"lat":12.97,"lng":77.59}}]'
    ws.send_frame(websocket.ABNF.create_frame(event[:10], websocket.ABNF.OPCODE_TEXT, fin=0))
    ws.send_frame(websocket.ABNF.create_frame(event[10:20], websocket.ABNF.OPCODE_CONT, fin=0))
    ws.send_frame(websocket.ABNF.create_frame(event[20:], websocket.ABNF.OPCODE_CONT, fin=1))
    answer = ws.recv()
    while answer == "2":
        ws.send("3")
        answer = ws.recv()
    assert answer == '431[{"ok":true}]'
    ws.close()


def test_sockets_closed_by_either_side_end_and_new_ones_are_served(url, db):
    """A client's close frame, and the server's DISCONNECT of a refused CONNECT, both
    end their connection; the process keeps serving."""
    ws = joined(url, db)
    ws.close()
    refused, _ = engineio_socket(url)
    refused.send("40" + json.dumps({"token": "not-a-token"}))
    assert refused.recv().startswith("44")
    refused.close()
    again = joined(url, db)
    again.close()


def test_a_long_polling_socket_upgrades_and_is_served_on_its_websocket(url, db):
    """socket.io-client's default: long-polling first, then the upgrade (probe, UPGRADE)
    to a websocket, on which events, acknowledgements and pings then go."""
    base = f"{url}/socket.io/?EIO=4&transport=polling"
    opened = requests.get(base, timeout=10).text
    sid = json.loads(opened[1:])["sid"]
    token = token_for(make_captain(db), "captain")
    assert requests.post(f"{base}&sid={sid}", data="40" + json.dumps({"token": token}),
                         timeout=10).text == "OK"
    assert requests.get(f"{base}&sid={sid}", timeout=10).text.startswith("40")
    ws = websocket.create_connection(
        url.replace("http", "ws", 1) + f"/socket.io/?EIO=4&transport=websocket&sid={sid}",
        suppress_origin=True, timeout=10)
    ws.send("2probe")
    assert ws.recv() == "3probe"
    ws.send("5")
    ws.send('421["update-location-captain",{"location":{"lat":12.97,"lng":77.59}}]')
    frames = []
    while len([f for f in frames if f == "2"]) < 2:  # pings keep coming, answered
        frames.append(ws.recv())
        if frames[-1] == "2":
            ws.send("3")
    assert '431[{"ok":true}]' in frames
    ws.close()


@pytest.mark.parametrize("setting", ["SOCKET_PING_INTERVAL", "SOCKET_PING_TIMEOUT"])
def test_a_heartbeat_under_a_second_refuses_to_start(tmp_path, setting):
    code = "from shared.config import Config\nConfig.check()"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), setting: "0.5"}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode != 0
    assert "SOCKET_PING_INTERVAL and SOCKET_PING_TIMEOUT must be 1 or more" in result.stderr

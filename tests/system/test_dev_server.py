"""The realtime service as `make run` serves it (gunicorn, shared/serve.py) with
websockets: once a Socket.IO websocket has ended, nothing more is written on its
connection (an HTTP answer after the close frame is what Chromium reports as "Invalid
frame header")."""
import base64
import json
import os
import socket
import struct
import time

import pytest
import requests

from ..conftest import serve


@pytest.fixture(scope="module")
def realtime(mongo_uri, tmp_path_factory):
    service = serve("realtime_service", mongo_uri, tmp_path_factory.mktemp("dev-ws"))
    yield service
    service.stop()


def masked_frame(opcode, payload):
    key = os.urandom(4)
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + key + bytes(
        b ^ key[i % 4] for i, b in enumerate(payload))


def upgraded_socket(port):
    """A polling session upgraded to a websocket, as a browser's client does it; the
    socket and what it has received after the 101 head."""
    opened = requests.get(f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling",
                          timeout=5).text
    sid = json.loads(opened[1:])["sid"]
    sock = socket.create_connection(("127.0.0.1", port), timeout=3)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((
        f"GET /socket.io/?EIO=4&transport=websocket&sid={sid} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(4096)
    head, rest = received.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 101")
    sock.sendall(masked_frame(0x1, b"2probe"))
    time.sleep(0.3)
    sock.sendall(masked_frame(0x1, b"5"))  # upgrade done
    return sock, rest


def test_nothing_follows_the_close_of_an_upgraded_websocket(realtime, db):
    sock, received = upgraded_socket(realtime.port)
    with sock:
        sock.sendall(masked_frame(0x1, b"40"))
        time.sleep(0.5)
        sock.sendall(masked_frame(0x1, b"41") + masked_frame(0x8, struct.pack("!H", 1000)))
        try:
            while chunk := sock.recv(4096):
                received += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    assert b"\x88" in received  # the server's close frame
    assert b"HTTP/1.1" not in received

"""Limits on what one socket may make the realtime service hold, with raw and real
clients over the wire, through `make run`'s gateway: the length of a message, binary
attachments per packet, the bytes buffered before a packet is reassembled, and the
messages a websocket reads ahead of the server."""
import threading
import time

import pytest
import websocket

from ..gateway_stack import start_stack, stop_stack

FRAME = 60_000
FLOOD = 40_000_000
RSS_GROWTH_MAX = 8 * 1024 * 1024


@pytest.fixture(scope="module")
def stack(mongo_uri, tmp_path_factory):
    """Both development servers and the gateway, which proxies with X-Forwarded-For."""
    stack, processes = start_stack(mongo_uri, tmp_path_factory.mktemp("socket-limits"),
                                   TRUSTED_PROXY_HOPS=1, LOG_LEVEL="WARNING")
    stack.realtime = processes[1]
    yield stack
    stop_stack(processes)


def rss(process):
    """The resident memory of a served process, bytes."""
    with open(f"/proc/{process.proc.pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class PeakRss:
    """The highest RSS of a served process while the `with` block runs."""

    def __init__(self, process):
        self.process = process
        self.peak = self.before = rss(process)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while not self._done.wait(0.005):
            self.peak = max(self.peak, rss(self.process))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()

    @property
    def growth(self):
        return self.peak - self.before


def raw_socket(url):
    """A websocket of the gateway's own page, joined to the namespace anonymously."""
    ws = websocket.create_connection(
        url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket",
        origin=url, timeout=5)
    assert ws.recv().startswith("0")
    ws.send("40")
    assert ws.recv().startswith("40")
    return ws


def flood(ws, total, frame):
    """Send binary frames until `total` bytes went or the server closed; bytes sent."""
    sent = 0
    chunk = b"\0" * frame
    try:
        while sent < total:
            ws.send_binary(chunk)
            sent += frame
    except (OSError, websocket.WebSocketException):
        pass
    return sent


def closed_by_server(ws, timeout=5.0):
    """Whether the server closes `ws` within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            ws.settimeout(max(0.05, deadline - time.monotonic()))
            opcode, _ = ws.recv_data(control_frame=True)
        except websocket.WebSocketTimeoutException:
            return False
        except (OSError, websocket.WebSocketException):
            return True
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return True
    return False


def test_a_packet_announcing_millions_of_attachments_is_refused(stack, db):
    """The header `45` 9,999,999 `-` made the worker keep every binary frame after it:
    +37.5 MB for 40 MB sent, the connection open."""
    ws = raw_socket(stack.url)
    before = rss(stack.realtime)
    ws.send("459999999-" + '["flood"]')
    sent = flood(ws, FLOOD, FRAME)
    closed = closed_by_server(ws)
    ws.close()
    growth = rss(stack.realtime) - before
    assert closed, f"still open after {sent} bytes"
    assert growth < RSS_GROWTH_MAX, f"RSS +{growth / 1e6:.1f} MB for {sent / 1e6:.0f} MB sent"


def test_attachments_past_the_buffered_bytes_bound_close_the_socket(stack, db):
    """Ten attachments announced (the most allowed), 60 kB each: the fifth crosses
    SOCKET_MAX_BUFFERED_BYTES (256 KiB) and the connection is closed."""
    ws = raw_socket(stack.url)
    ws.send("4510-" + '["flood"]')
    sent = flood(ws, 10 * 60_000, 60_000)
    assert closed_by_server(ws), f"still open after {sent} bytes"
    ws.close()


def test_attachments_within_the_bounds_keep_the_socket_served(stack, db):
    ws = raw_socket(stack.url)
    ws.send("452-" + '["binary",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')
    flood(ws, 2 * 60_000, 60_000)
    ws.send('421["update-location-captain",{}]')
    assert ws.recv() == '431[{"ok":false,"message":"Authentication required"}]'
    ws.close()


def test_a_client_sending_fast_is_read_no_faster_than_it_is_served(stack, db):
    """simple-websocket read on while data was waiting, without yielding: 20 MB of
    small events sent as fast as possible took +44 MB (and stalled /healthz 2.8 s)."""
    ws = raw_socket(stack.url)
    event = '42["nothing","' + "a" * 1000 + '"]'
    with PeakRss(stack.realtime) as memory:
        for _ in range(FLOOD // 2 // len(event)):
            ws.send(event)
        ws.send('421["update-location-captain",{}]')
        assert ws.recv().startswith("431")
    ws.close()
    assert memory.growth < RSS_GROWTH_MAX, f"peak RSS +{memory.growth / 1e6:.1f} MB"


def test_a_message_longer_than_the_bound_is_not_buffered_whole(stack, db):
    """simple-websocket buffered a whole websocket message before Engine.IO compared it
    with max_http_buffer_size: one 40 MB message took +80 MB, however briefly."""
    ws = raw_socket(stack.url)
    with PeakRss(stack.realtime) as memory:
        flood(ws, FLOOD, FLOOD)
        closed = closed_by_server(ws)
    ws.close()
    assert closed
    assert memory.growth < RSS_GROWTH_MAX, f"peak RSS +{memory.growth / 1e6:.1f} MB"

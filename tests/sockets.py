"""A real python-socketio client that records every event it receives."""
import re
import threading
import time
from collections import defaultdict

import socketio
import websocket
from socketio import packet

# websocket-client's close() waits up to 3 s for the server's close frame, which the
# Engine.IO client's own reader thread usually consumes first, so nearly every
# disconnect of a test client took 3 s. A short wait is plenty on localhost.
_close = websocket.WebSocket.close


def _quick_close(self, status=websocket.STATUS_NORMAL, reason=b"", timeout=0.2):
    return _close(self, status, reason, timeout)


websocket.WebSocket.close = _quick_close


# The offset Ridewire appends to every event (connection state recovery): in-memory
# `<epoch>:<n>`, or a Redis Stream id `<ms>-<seq>`.
OFFSET = re.compile(r"[0-9a-f]{8}:[0-9]+|[0-9]+-[0-9]+")


def without_offset(args):
    """An event's arguments as the application sent them."""
    if args and isinstance(args[-1], str) and OFFSET.fullmatch(args[-1]):
        return list(args[:-1])
    return list(args)


def payload_of(args):
    """An event's payload: its one argument (or the tuple of them)."""
    args = without_offset(args)
    return args[0] if len(args) == 1 else tuple(args)


class LeavingClient(socketio.Client):
    """python-socketio's client, whose disconnect writes its DISCONNECT packet before the
    transport closes, as socket.io-client does: the library's own may close it first,
    and the server then takes a deliberate leave for a drop (held for the grace)."""

    def disconnect(self):
        for namespace in self.namespaces:
            self._send_packet(self.packet_class(packet.DISCONNECT, namespace=namespace))
        written = threading.Thread(target=self.eio.queue.join, daemon=True)
        written.start()
        written.join(2)  # not forever: a dead transport writes nothing
        self.eio.disconnect()


class RecordingClient:
    """Connects to a served realtime process; `wait_for` blocks until an event arrives."""

    def __init__(self):
        self.client = LeavingClient(reconnection=False)
        self.events = defaultdict(list)
        self._changed = threading.Condition()
        self.connect_error = None
        self.client.on("*", self._record)
        self.client.on("connect_error", self._on_connect_error)

    def _record(self, event, *args):
        with self._changed:
            self.events[event].append(payload_of(args))
            self._changed.notify_all()

    def _on_connect_error(self, data):
        with self._changed:
            self.connect_error = data
            self._changed.notify_all()

    def connect(self, url, token=None, transports=("websocket",), headers=None, query=None,
                wait_timeout=20, auth=None):
        """Connect, waiting long for the answer: a slow refusal timed out has no reason.
        `auth`: more of the handshake's auth payload (beside the token)."""
        target = url if not query else f"{url}?{query}"
        headers = dict(headers or {})
        if "websocket" in transports:
            # websocket-client invents an Origin (the URL's own) unless told one; a
            # non-browser client sends none, as a test that names none means.
            origin = (headers.pop("Origin", None) if list(transports) == ["websocket"]
                      else headers.get("Origin"))
            self.client.eio.websocket_extra_options = (
                {"origin": origin} if origin else {"suppress_origin": True})
        payload = {**({"token": token} if token else {}), **(auth or {})}
        self.client.connect(target, auth=payload or None,
                            transports=list(transports), headers=headers,
                            wait_timeout=wait_timeout)
        return self

    def wait_for(self, event, predicate=lambda payload: True, timeout=5.0):
        """The first payload of `event` satisfying `predicate`, waiting up to `timeout` s."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for payload in self.events[event]:
                    if predicate(payload):
                        return payload
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no {event!r} within {timeout}s; got {dict(self.events)}")
                self._changed.wait(remaining)

    def forget(self, event):
        """Drop the payloads of `event` received so far, to wait for a later one."""
        with self._changed:
            self.events.pop(event, None)

    def emit(self, event, data=None):
        self.client.emit(event, data)

    def call(self, event, data=None, timeout=5):
        """Emit `event` and wait for the server's acknowledgement."""
        return self.client.call(event, data, timeout=timeout)

    @property
    def connected(self):
        return self.client.connected

    @property
    def sid(self):
        """The Socket.IO id of this connection (what `socketId` fields record)."""
        return self.client.get_sid()

    def disconnect(self):
        if self.client.connected:
            self.client.disconnect()


def connect(url, token, **kwargs):
    return RecordingClient().connect(url, token, **kwargs)


def disconnect_all(clients):
    """In parallel: a client's disconnect can wait for the server's close frame."""
    threads = [threading.Thread(target=client.disconnect) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def flush(client):
    """Round-trip one event: every event the server sent this socket before is recorded
    once the acknowledgement is back (a socket's packets arrive in order)."""
    return client.call("update-location-captain", None, timeout=5)

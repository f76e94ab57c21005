"""In-process Socket.IO clients: Flask-SocketIO's test client behind the interface of
tests.sockets.RecordingClient, for socket tests whose subject is the app (events, rooms,
pushes, identity rules) rather than the transport or the server process.

The realtime app runs its background tasks (the announcement after a connect, the
revocation watcher) as gevent greenlets; this process is not monkey-patched, so they
run while a test waits in `wait_for` (which sleeps through gevent) and nowhere else.
Every one is recorded and killed after its test (`kill_background_tasks`): a greenlet
of an earlier test's app would otherwise emit through the one global `socketio`."""
import time
import weakref
from collections import defaultdict

import engineio
import gevent
from flask_socketio import SocketIOTestClient
from socketio import packet

from realtime_service.extensions import socketio
from tests.sockets import payload_of

_started = weakref.WeakSet()
_start_background_task = engineio.Server.start_background_task


def _recorded_start(self, target, *args, **kwargs):
    """engineio's start_background_task, remembering the task to kill it later."""
    task = _start_background_task(self, target, *args, **kwargs)
    if isinstance(task, gevent.Greenlet):
        _started.add(task)
    return task


engineio.Server.start_background_task = _recorded_start


def kill_background_tasks():
    """Kill the greenlets that in-process apps started (none are left to a later test)."""
    alive = [task for task in _started if not task.dead]
    _started.clear()
    if alive:
        gevent.killall(alive)


class _TestClient(SocketIOTestClient):
    """Flask-SocketIO's test client, keeping the payload of a refused connection."""

    connect_error = None

    def connect(self, namespace=None, query_string=None, headers=None, auth=None):
        """Connect as the parent does, recording a CONNECT_ERROR packet's data."""
        send = self.socketio.server._send_packet

        def record(eio_sid, pkt):
            if eio_sid == self.eio_sid and pkt.packet_type == packet.CONNECT_ERROR:
                self.connect_error = pkt.data
            send(eio_sid, pkt)

        self.socketio.server._send_packet = record
        try:
            super().connect(namespace, query_string, headers, auth)
        finally:
            self.socketio.server._send_packet = send


class InProcessClient:
    """One in-process connection to `app`; `wait_for` yields to the app's greenlets until
    an event arrives."""

    def __init__(self, app, token=None, headers=None, query=None, auth=None):
        """`auth`: more of the handshake's auth payload (beside the token)."""
        self.app = app
        self.events = defaultdict(list)
        payload = {**({"token": token} if token else {}), **(auth or {})}
        self.client = _TestClient(app, socketio, query_string=query, headers=headers,
                                  auth=payload or None)
        self.connect_error = self.client.connect_error

    @property
    def connected(self):
        return self.client.is_connected()

    @property
    def sid(self):
        """The Socket.IO id of this connection (what `socketId` fields record)."""
        return socketio.server.manager.sid_from_eio_sid(self.client.eio_sid, "/")

    def _drain(self):
        for item in self.client.queue:
            args = item["args"]
            self.events[item["name"]].append(payload_of(args))
        self.client.queue = []

    def wait_for(self, event, predicate=lambda payload: True, timeout=5.0):
        """The first payload of `event` satisfying `predicate`, waiting up to `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            self._drain()
            for payload in self.events[event]:
                if predicate(payload):
                    return payload
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no {event!r} within {timeout}s; got {dict(self.events)}")
            socketio.sleep(0.01)

    def settle(self, seconds=0.05):
        """Let the app's greenlets run for `seconds`, then record what arrived."""
        socketio.sleep(seconds)
        self._drain()

    def forget(self, event):
        """Drop the payloads of `event` received so far, to wait for a later one."""
        self._drain()
        self.events.pop(event, None)

    def emit(self, event, data=None):
        self.client.emit(event, data)
        self._drain()

    def call(self, event, data=None, timeout=None):
        """Emit `event` and return the server's acknowledgement (handled synchronously)."""
        ack = self.client.emit(event, data, callback=True)
        self._drain()
        return ack

    def disconnect(self):
        if self.connected:
            self.client.disconnect()
        self._drain()
        SocketIOTestClient.clients.pop(self.client.eio_sid, None)

"""What an idle websocket holds in the worker: one greenlet, the connection's own.

python-engineio's websocket transport over simple-websocket kept five greenlets per
idle socket, each a saved stack and more (BENCHMARKS.md, scenario 12). Here:

- `InlineServer`: simple-websocket's server side without its reader greenlet. The
  greenlet that asks for the next message (python-engineio's websocket handler, the
  connection's own) reads the socket itself, so the socket is read no faster than its
  messages are taken (backpressure: a client sending fast is not buffered), and a
  message longer than SOCKET_MAX_MESSAGE_BYTES closes the connection as it arrives.
- Compression (permessage-deflate) only with SOCKET_COMPRESSION: a compressing
  socket keeps a zlib compressor and decompressor, about 90 KiB of RSS, for its life.
- `call_later`: a greenlet started only when its time comes (until then a timer and
  an object, no stack): the connect deadline, and `LeanSocket`'s Engine.IO pings.
"""
import functools
import socket
import time

import gevent
import simple_websocket
from engineio import exceptions, packet
from engineio.async_drivers._websocket_wsgi import SimpleWebSocketWSGI
from engineio.socket import Socket
from wsproto.utilities import LocalProtocolError

from realtime_service.sockets.frames import RawFrames

SOCKETIO_DISCONNECT = "1"  # a Socket.IO packet's type, first in an Engine.IO message


def call_later(server, seconds, function, *args):
    """Run `function(*args)` in a task of its own after `seconds`: in gevent mode a
    greenlet started only then; in another async mode, a background task that sleeps."""
    if server.async_mode == "gevent":
        return gevent.spawn_later(seconds, function, *args)
    return server.start_background_task(_after, server, seconds, function, *args)


def _after(server, seconds, function, *args):
    server.sleep(seconds)
    function(*args)


class _NoReader:
    """Stands in for simple-websocket's reader thread: nothing to start."""

    name = "inline"

    def __init__(self, target):
        pass  # the connection's greenlet reads (InlineServer.receive)

    def start(self):
        pass


class _NoEvent:
    """Stands in for the event the reader thread would set: nobody waits on it."""

    def set(self):
        pass

    def clear(self):
        pass


class InlineServer(simple_websocket.Server):
    """simple-websocket's server side, read by the greenlet that calls `receive()`."""

    def __init__(self, environ, **kwargs):
        self.closed_here = False
        kwargs.update(thread_class=_NoReader, event_class=_NoEvent)
        super().__init__(environ, **kwargs)

    def receive(self, timeout=None):
        """The next message; raises ConnectionClosed once the connection has ended.
        Waits as long as it takes (python-engineio asks with no timeout)."""
        if timeout is not None:
            raise ValueError("InlineServer.receive waits without a timeout")
        while self.connected and not self.input_buffer:
            self._read()
        if self.input_buffer:
            return self.input_buffer.pop(0)
        raise simple_websocket.ConnectionClosed(self.close_reason, self.close_message)

    def _read(self):
        """Read once from the socket and handle what came (pings, close, messages)."""
        try:
            data = self.sock.recv(self.receive_bytes)
            if not data:
                raise OSError("connection closed by the client")
            self.ws.receive_data(data)
            self.connected = self._handle_events() and not self.closed_here
        except (OSError, LocalProtocolError):
            self.connected = False
        if not self.connected:
            self.sock.close()

    def send(self, data):
        """Frames already built (realtime_service.sockets.frames) are written as they
        are; anything else is framed by simple-websocket."""
        if not isinstance(data, RawFrames):
            return super().send(data)
        if not self.connected:
            raise simple_websocket.ConnectionClosed(self.close_reason, self.close_message)
        self.sock.sendall(data)

    def close(self, reason=None, message=None):
        """Send the close frame, then shut the connection down: the reading greenlet
        ends at once whatever the client goes on sending."""
        self.closed_here = True
        try:
            super().close(reason, message)
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:  # the client has gone already
            pass


class InlineWebSocket(SimpleWebSocketWSGI):
    """python-engineio's websocket over `InlineServer`, its messages bounded by the
    Engine.IO server's `max_http_buffer_size` (python-engineio's gevent and threading
    drivers do not pass that limit on to simple-websocket), compressed only with
    `compression` (simple-websocket accepts permessage-deflate whenever offered)."""

    def __init__(self, handler, server, compression=False):
        super().__init__(handler, server)
        self.server_args = {"max_message_size": server.max_http_buffer_size}
        self.compression = compression

    def __call__(self, environ, start_response):
        offered = environ
        if not self.compression:
            offered = {key: value for key, value in environ.items()
                       if key != "HTTP_SEC_WEBSOCKET_EXTENSIONS"}
        self.ws = InlineServer(offered, **self.server_args)
        result = self.app(self)
        if self.ws.mode == "gunicorn":
            raise StopIteration()
        if self.ws.mode == "werkzeug":
            raise ConnectionError()
        return result


class LeanSocket(Socket):
    """python-engineio's Socket with no greenlet of its own while its websocket is idle:
    its ping waits as a timer, and its packets are written by a greenlet started when
    there are some and ended once they are written (python-engineio's writer waited for
    the next packet for the socket's whole life). The connection's own greenlet reads.
    python-engineio has no hook for its socket class: `init_transport` sets it on each
    new socket, in the Engine.IO connect handler, before its first ping is scheduled."""

    _websocket = _writer = None
    client_left = False  # it sent a Socket.IO DISCONNECT (recovery.left reads it)

    def schedule_ping(self):
        """As python-engineio's: a new ping once the previous one was answered."""
        if self.last_ping:
            self.last_ping = None
            call_later(self.server, self.server.ping_interval, self._ping_now)

    def _ping_now(self):
        """python-engineio's `_send_ping` after its sleep."""
        if not self.closing and not self.closed:
            self.last_ping = time.time()
            self.send(packet.Packet(packet.PING))

    def receive(self, pkt):
        """As python-engineio's, noting at once a Socket.IO DISCONNECT: its handler runs
        in a task of its own, often after the Engine.IO close that the client sends
        right behind it, and must still see a client that left on purpose."""
        if pkt.packet_type == packet.MESSAGE and isinstance(pkt.data, str) \
                and pkt.data.startswith(SOCKETIO_DISCONNECT):
            self.client_left = True
        return super().receive(pkt)

    def send(self, pkt):
        """Queue `pkt` as python-engineio does, and have it written."""
        super().send(pkt)
        self._write_soon()

    def close(self, wait=True, abort=False, reason=None):
        """As python-engineio's; what is queued, the close packet last, is written
        before the websocket closes (and waited for, with `wait`, unless that websocket
        has gone: nothing would ever take them)."""
        super().close(wait=False, abort=abort, reason=reason)
        self._write_soon()
        if wait and (self._websocket is not None or not self.upgraded):
            self.queue.join()

    def _write_soon(self):
        """Start a writer for the queued packets, unless one runs or none is needed."""
        if self._websocket is not None and self._writer is None and not self.queue.empty():
            self._writer = self.server.start_background_task(self._write_queued)

    def _write_queued(self):
        """Write the queued packets, then end; at the queue's end mark (None) or a
        failed write, close the websocket and drop what is left."""
        ws, empty = self._websocket, self.server.get_queue_empty_exception()
        try:
            while True:
                try:
                    pkt = self.queue.get(block=False)
                except empty:
                    return
                self.queue.task_done()
                if pkt is None or not self._sent(ws, pkt):
                    break
            self._websocket = None
            ws.close()
            self._drop_queued(empty)
        finally:
            self._writer = None

    @staticmethod
    def _sent(ws, pkt):
        """Whether `pkt` was written to `ws`."""
        try:
            ws.send(pkt.encode())
            return True
        except Exception:  # the connection is gone: python-engineio's writer stops too
            return False

    def _drop_queued(self, empty):
        """Take what is left off the queue (so that a close waiting on it returns)."""
        while True:
            try:
                self.queue.get(block=False)
            except empty:
                return
            self.queue.task_done()

    def _websocket_handler(self, ws):
        """python-engineio's: read the packets in this greenlet until the connection
        ends, then close the socket. A long-polling socket upgrades first."""
        if self.connected and not self._upgraded(ws):
            return []
        self.connected = self.upgraded = True
        self._websocket = ws
        self._write_soon()  # what was queued before
        while self._received(ws):
            pass
        self.queue.put(None)  # the writer closes the websocket after what is queued
        self._write_soon()
        if self._writer is not None:
            self._writer.join()
        self._websocket = None
        self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_CLOSE)
        return []

    def _upgraded(self, ws):
        """python-engineio's upgrade from long-polling: the client's probe answered, the
        pending long-polling request ended, then the client's UPGRADE. Packets sent
        meanwhile stay queued for the websocket."""
        self.upgrading = True
        try:
            probe = ws.wait()
            probe = probe and packet.Packet(encoded_packet=probe)
            if not probe or probe.packet_type != packet.PING or probe.data != "probe":
                self.server.logger.info("%s: Failed websocket upgrade, no PING packet",
                                        self.sid)
                return False
            ws.send(packet.Packet(packet.PONG, data="probe").encode())
            self.queue.put(packet.Packet(packet.NOOP))  # ends the long-polling request
            upgrade = ws.wait()
            if upgrade is None or packet.Packet(
                    encoded_packet=upgrade).packet_type != packet.UPGRADE:
                self.server.logger.info("%s: Failed websocket upgrade, no UPGRADE packet",
                                        self.sid)
                return False
            return True
        finally:
            self.upgrading = False

    def _received(self, ws):
        """Read and handle one packet; False once the connection has ended."""
        try:
            data = ws.wait()
        except Exception as error:
            if not self.closed:
                self.server.logger.info("%s: Unexpected error %r, closing connection",
                                        self.sid, error)
            return False
        if data is None or len(data) > self.server.max_http_buffer_size:
            return False
        try:
            self.receive(packet.Packet(encoded_packet=data))
        except exceptions.UnknownPacketError:
            pass
        except exceptions.SocketIsClosedError:
            return False
        except Exception:
            self.server.logger.exception("Unknown receive error")
            return False
        return True


def init_transport(server, compression=False):
    """Serve the websockets of the python-socketio `server` with InlineWebSocket
    (permessage-deflate with `compression`; its client manager told that they take
    RawFrames), and make every Engine.IO socket a LeanSocket (chained to the Engine.IO
    connect handler)."""
    eio = server.eio
    if isinstance(eio._async.get("websocket"), type) and issubclass(
            eio._async["websocket"], SimpleWebSocketWSGI):
        eio._async = {**eio._async,
                      "websocket": functools.partial(InlineWebSocket, compression=compression)}
        server.manager.raw_frames = True  # InlineServer writes RawFrames as they are
    handle_connect = eio.handlers["connect"]

    def on_eio_connect(eio_sid, environ):
        engine_socket = eio.sockets.get(eio_sid)
        if type(engine_socket) is Socket:
            engine_socket.__class__ = LeanSocket
        return handle_connect(eio_sid, environ)

    eio.on("connect", on_eio_connect)


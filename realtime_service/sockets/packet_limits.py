"""Bounds on what one Socket.IO connection can make the process buffer.

A message (a websocket message, or a long-polling request's body) is at most
SOCKET_MAX_MESSAGE_BYTES: python-engineio's `max_http_buffer_size`, which its gevent
driver does not pass on to simple-websocket; BackpressureWebSocket does, so that a
longer websocket message closes the connection as it arrives, instead of being
buffered whole before Engine.IO measures it.

A binary packet announces at most SOCKET_MAX_ATTACHMENTS attachments, which add up to
at most SOCKET_MAX_BUFFERED_BYTES: python-socketio keeps every attachment of a packet
until the announced count has arrived, and takes any count of up to ten digits.
Ridewire's events carry no binary data at all.

A packet over either bound closes its connection: python-socketio would only log the
error and keep the connection (and what it buffered) open. Below the packets, a
websocket reads no more than its messages are taken (BackpressureServer).
"""
import logging
import socket
import threading

import simple_websocket
import socketio
from engineio.async_drivers._websocket_wsgi import SimpleWebSocketWSGI

from realtime_service.sockets.frames import RawFrames

log = logging.getLogger(__name__)


class PacketRefused(ValueError):
    """A packet over one of this module's bounds."""


def bounded_packet_class(max_attachments, max_buffered_bytes):
    """A python-socketio packet class (its `serializer`) that refuses a packet
    announcing more than `max_attachments` attachments, or whose attachments would add
    up to more than `max_buffered_bytes`."""

    class BoundedPacket(socketio.packet.Packet):
        def decode(self, encoded_packet):
            """The announced attachment count, refused above `max_attachments`."""
            count = super().decode(encoded_packet)
            if count > max_attachments:
                raise PacketRefused(f"a packet announced {count} binary attachments")
            return count

        def add_attachment(self, attachment):
            """Keep `attachment` unless the packet's attachments would outgrow the bound."""
            buffered = sum(len(kept) for kept in self.attachments) + len(attachment)
            if buffered > max_buffered_bytes:
                raise PacketRefused(f"a packet's attachments reached {buffered} bytes")
            return super().add_attachment(attachment)

    return BoundedPacket


def close_on_refusal(server):
    """Close the Engine.IO connection of a refused packet, and ignore what it sends
    until it is closed (from a task of its own: a long-polling POST must not wait for
    the close to be delivered)."""
    handle_message = server.eio.handlers["message"]
    closing = set()

    def on_eio_message(eio_sid, data):
        if eio_sid in closing:
            return None
        try:
            return handle_message(eio_sid, data)
        except PacketRefused as error:
            log.warning("socket closed: %s", error)
            closing.add(eio_sid)
            server.start_background_task(_close, server, eio_sid, closing)
            return None

    server.eio.on("message", on_eio_message)


def _close(server, eio_sid, closing):
    try:
        server.eio.disconnect(eio_sid)
    finally:
        closing.discard(eio_sid)


class BackpressureServer(simple_websocket.Server):
    """simple-websocket's server side, whose reader reads no more from the socket
    while messages it has buffered are still to be taken, and stops once the server
    has closed the websocket. Its reader otherwise kept reading as long as data was
    waiting, without yielding: a client sending fast had every message it sent
    buffered (and the process busy with nothing else), before and after a close."""

    def __init__(self, environ, event_class=None, **kwargs):
        self.closed_here = False
        self.drained = (event_class or threading.Event)()
        self.drained.set()
        super().__init__(environ, event_class=event_class, **kwargs)

    def _handle_events(self):
        """Parse what was read, then wait until its messages have been taken; False
        (read no more) once the server has closed the websocket."""
        keep_going = super()._handle_events()
        while keep_going and not self.closed_here and self.input_buffer:
            self.drained.clear()
            self.drained.wait()
        return keep_going and not self.closed_here

    def receive(self, timeout=None):
        try:
            return super().receive(timeout)
        finally:
            if not self.input_buffer:
                self.drained.set()

    def send(self, data):
        """Frames already built (realtime_service.sockets.frames) are written as they
        are; anything else is framed by simple-websocket."""
        if not isinstance(data, RawFrames):
            return super().send(data)
        if not self.connected:
            raise simple_websocket.ConnectionClosed(self.close_reason, self.close_message)
        self.sock.sendall(data)

    def close(self, reason=None, message=None):
        """Send the close frame, then shut the connection down: the reader ends at
        once whatever the client goes on sending, and the connection closes although
        the WSGI server still holds the handle that simple-websocket duplicated."""
        self.closed_here = True
        try:
            super().close(reason, message)
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:  # the client has gone already
            pass
        finally:
            self.drained.set()


class BackpressureWebSocket(SimpleWebSocketWSGI):
    """python-engineio's websocket over simple-websocket, served by BackpressureServer,
    its messages bounded by the Engine.IO server's `max_http_buffer_size` (python-engineio's
    eventlet and aiohttp drivers pass that limit to their websocket libraries; its gevent
    and threading drivers do not)."""

    def __init__(self, handler, server, **kwargs):
        super().__init__(handler, server, **kwargs)
        self.server_args["max_message_size"] = server.max_http_buffer_size

    def __call__(self, environ, start_response):
        self.ws = BackpressureServer(environ, **self.server_args)
        result = self.app(self)
        if self.ws.mode == "gunicorn":
            raise StopIteration()
        if self.ws.mode == "werkzeug":
            raise ConnectionError()
        return result


def backpressure_websockets(eio_server):
    """Serve the websockets of `eio_server` with BackpressureWebSocket, when its async
    driver uses simple-websocket (gevent without gevent-websocket, threading); whether
    it does (then its websockets take RawFrames)."""
    websocket_class = eio_server._async.get("websocket")
    if websocket_class is None or not issubclass(websocket_class, SimpleWebSocketWSGI):
        return False
    served = type("Backpressure" + websocket_class.__name__,
                  (BackpressureWebSocket, websocket_class), {})
    eio_server._async = {**eio_server._async, "websocket": served}
    return True


def init_packet_limits(server):
    """Apply the bounds to a python-socketio server made with `bounded_packet_class`;
    tell its client manager whether its websockets take RawFrames."""
    close_on_refusal(server)
    server.manager.raw_frames = backpressure_websockets(server.eio)

"""Bounds on what one Socket.IO connection can make the process buffer.

A message (a websocket message, or a long-polling request's body) is at most
SOCKET_MAX_MESSAGE_BYTES: python-engineio's `max_http_buffer_size`, which its gevent
driver does not pass on to simple-websocket; realtime_service.sockets.transport does,
so that a longer websocket message closes the connection as it arrives, instead of
being buffered whole before Engine.IO measures it.

A binary packet announces at most SOCKET_MAX_ATTACHMENTS attachments, which add up to
at most SOCKET_MAX_BUFFERED_BYTES: python-socketio keeps every attachment of a packet
until the announced count has arrived, and takes any count of up to ten digits.
Ridewire's events carry no binary data at all.

A packet over either bound closes its connection: python-socketio would only log the
error and keep the connection (and what it buffered) open. Below the packets, a
websocket reads no more than its messages are taken (transport.InlineServer).
"""
import logging

import socketio

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


def init_packet_limits(server):
    """Apply the bounds to a python-socketio server made with `bounded_packet_class`."""
    close_on_refusal(server)

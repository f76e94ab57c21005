"""Several Engine.IO packets written to a websocket with one write: the frames of a
flush of events (the presence changes of a window) are built once, as the bytes
RFC 6455 puts on the wire for a server's unmasked, uncompressed text frame, and the
same bytes go to every websocket, instead of one frame built and one write made per
event and socket. Each packet is still a frame of its own, so clients see the same
events as when they are sent one by one.

`FramesPacket` goes through a socket's outgoing queue like any packet (so the order
with the other packets is kept); python-engineio's websocket writer hands what its
`encode()` returns to the websocket's `send`, and `InlineServer.send`
(realtime_service.sockets.transport) writes `RawFrames` as they are. A long-polling
socket is sent the packets one by one.
"""
import struct

from engineio import packet as eio_packet

TEXT_FINAL = 0x81  # FIN, opcode 1 (text); RSV1 clear: not compressed


class RawFrames(bytes):
    """Websocket frames ready for the wire."""


def text_frame(text):
    """One final, unmasked text frame holding `text`."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", TEXT_FINAL, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", TEXT_FINAL, 126, size)
    else:
        header = struct.pack("!BBQ", TEXT_FINAL, 127, size)
    return header + payload


class FramesPacket(eio_packet.Packet):
    """Engine.IO packets queued as one: `encode()` gives their frames, one per packet."""

    def __init__(self, packets):
        super().__init__(eio_packet.MESSAGE)
        self.frames = RawFrames(b"".join(text_frame(pkt.encode()) for pkt in packets))

    def encode(self, b64=False):
        return self.frames

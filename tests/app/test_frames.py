"""Websocket frames built ahead (realtime_service.sockets.frames) are the frames a
websocket client reads: parsed here by wsproto's client side, at each length class."""
from engineio import packet as eio_packet
from wsproto.frame_protocol import FrameProtocol, Opcode

from realtime_service.sockets.frames import FramesPacket, RawFrames, text_frame


def client_reads(data):
    reader = FrameProtocol(client=True, extensions=[])
    reader.receive_bytes(data)
    return list(reader.received_frames())


def test_frames_of_every_length_class_parse_as_separate_final_text_messages():
    texts = ["4short", "4" + "é" * 100, "4" + "x" * 70_000, ""]
    frames = client_reads(b"".join(text_frame(text) for text in texts))
    assert [(f.opcode, f.message_finished, f.payload) for f in frames] == [
        (Opcode.TEXT, True, text) for text in texts]


def test_a_frames_packet_encodes_each_packet_as_a_frame_of_its_own():
    packets = [eio_packet.Packet(eio_packet.MESSAGE, f'2["userOnline",{{"userId":"{n}"}}]')
               for n in range(3)]
    encoded = FramesPacket(packets).encode()
    assert isinstance(encoded, RawFrames)
    assert [f.payload for f in client_reads(encoded)] == [p.encode() for p in packets]

"""A client's Socket.IO DISCONNECT is noted by its Engine.IO socket as it is read, so a
close right behind it (the client's next packet) still counts as leaving on purpose."""
import engineio
from engineio import packet

from realtime_service.sockets.transport import LeanSocket


def lean_socket():
    server = engineio.Server(async_mode="threading")
    return LeanSocket(server, "eio-sid")


def test_a_disconnect_packet_is_noted_before_its_handler_runs():
    socket = lean_socket()
    socket.receive(packet.Packet(packet.MESSAGE, data="1"))  # socket.disconnect()
    assert socket.client_left


def test_other_messages_and_a_bare_close_are_not_a_client_leaving():
    socket = lean_socket()
    for data in ("2[\"send-message\",{}]", "0{\"token\":\"x\"}", "3[]"):
        socket.receive(packet.Packet(packet.MESSAGE, data=data))
    assert not socket.client_left
    socket.receive(packet.Packet(packet.CLOSE))  # a close alone may be a drop
    assert not socket.client_left

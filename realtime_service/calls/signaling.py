"""What travels in a call room: a `signal` goes from a member of a room to another
member of the same room only, its data (SDP, candidates) relayed as it came, at most
CALL_SIGNAL_MAX_BYTES; an in-call message goes to every member and is kept. What the
members are told, and how they name each other, is the room's protocol."""
from realtime_service.calls import calls
from realtime_service.calls.protocols import protocol_of
from realtime_service.calls.service import (
    CALL_NOT_FOUND,
    NOT_IN_CALL,
    UNKNOWN_TARGET,
    member_of_account,
    member_of_socket,
    setting,
)
from shared.errors import BadRequest, Forbidden, NotFound
from shared.jsonio import dumps
from shared.serialize import now


def check_size(data):
    size = len(dumps(data).encode())
    limit = setting("CALL_SIGNAL_MAX_BYTES")
    if size > limit:
        raise BadRequest(f"Signal data too large ({size} bytes, at most {limit})")


def relay_signal(room, caller, to, data):
    """Deliver `data` to the member `to` of the room (an account id, or a socket id in
    a room whose protocol names members by socket), if the caller's socket is a member
    of that room too."""
    check_size(data)
    call = calls.find_open(room, with_messages=False)
    sender = call and member_of_socket(call, caller.sid)
    if not sender:
        raise Forbidden(NOT_IN_CALL)
    protocol = protocol_of(call)
    target = (member_of_socket(call, to) if protocol.by_socket
              else member_of_account(call, to))
    if target is None:
        raise NotFound(UNKNOWN_TARGET)
    if target["sid"] == caller.sid:
        raise BadRequest("Signal another member, not yourself")
    protocol.signal(call, sender, target, data)


def post_call_message(room, caller, text, name=None):
    """Store a chat message in the room (the latest CALL_CHAT_HISTORY are kept, with
    the socket it came from) and tell the members; what the sender is answered. `name`
    is the sender's name for this message (the member's by default)."""
    call = calls.find_open(room, with_messages=False)
    sender = call and member_of_socket(call, caller.sid)
    if not sender:
        raise Forbidden(NOT_IN_CALL)
    message = {"senderId": caller.account_id, "senderName": name or sender["name"],
               "sid": caller.sid, "text": text, "createdAt": now()}
    if not calls.add_message(call["_id"], message, setting("CALL_CHAT_HISTORY")):
        raise NotFound(CALL_NOT_FOUND)
    return protocol_of(call).message(call, message)

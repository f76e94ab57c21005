"""Event, acknowledgement and response schemas of the calls. The dumping schemas are
allow-lists: a member's socket id, a call's parties and its stored state never leave."""
from marshmallow import ValidationError, fields, pre_load, validate, validates_schema

from shared.schemas import CursorQuery, Id, Schema, Timestamp

KINDS = ("meeting", "ride", "direct")
ROOM_LENGTH = 100
TEXT_LENGTH = "Message text must be 1-2000 characters long"
ROOM = {"description": "the room: `meeting:<code>`, `ride:<ride id>` or `direct:<code>`"}


def room_field():
    return fields.String(required=True, validate=validate.Length(min=1, max=ROOM_LENGTH),
                         metadata=ROOM)


class CallStartSchema(Schema):
    """`call-start`: a new meeting, a call about one's ride, or a call to an account."""

    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    rideId = Id(load_default=None)
    to = Id(load_default=None, metadata={"description": "the account a direct call rings"})

    @validates_schema
    def target_of_kind(self, data, **kwargs):
        if data.get("kind") == "ride" and data.get("rideId") is None:
            raise ValidationError("A ride call needs the rideId", "rideId")
        if data.get("kind") == "direct" and data.get("to") is None:
            raise ValidationError("A direct call needs the account to call", "to")


class RoomSchema(Schema):
    """`call-join`, `call-leave`, `call-end`."""

    room = room_field()


class SignalSchema(Schema):
    """`signal`: opaque WebRTC data (an offer, an answer, a candidate) for one member."""

    room = room_field()
    to = fields.String(required=True, validate=validate.Length(min=1, max=64),
                       metadata={"description": "the account id of a member of the room"})
    data = fields.Raw(required=True, allow_none=False)


class CallMessageSchema(Schema):
    """`call-message`: a chat line to the members of the room."""

    room = room_field()
    text = fields.String(required=True,
                         validate=validate.Length(min=1, max=2000, error=TEXT_LENGTH))

    @pre_load
    def strip_text(self, data, **kwargs):
        """Surrounding spaces are dropped."""
        if isinstance(data, dict) and isinstance(data.get("text"), str):
            data = {**data, "text": data["text"].strip()}
        return data


class MemberOut(Schema):
    accountId = Id()
    role = fields.String()
    name = fields.String()
    joinedAt = Timestamp()


class CallMessageOut(Schema):
    room = fields.String()
    senderId = Id()
    senderName = fields.String()
    text = fields.String()
    createdAt = Timestamp()


class CallOut(Schema):
    """The `call-start` acknowledgement's call."""

    room = fields.String(metadata=ROOM)
    kind = fields.String()
    rideId = Id(allow_none=True)


class JoinedCall(CallOut):
    """The `call-join` acknowledgement: who is in the room (you included) and the
    latest chat messages, oldest first."""

    members = fields.List(fields.Nested(MemberOut))
    messages = fields.List(fields.Nested(CallMessageOut))


class IncomingCall(CallOut):
    """`incoming-call`, to the other party of a ride or direct call."""

    caller = fields.Nested(MemberOut(only=("accountId", "role", "name")), data_key="from")


class MemberJoined(Schema):
    room = fields.String()
    member = fields.Nested(MemberOut)


class MemberLeft(Schema):
    room = fields.String()
    accountId = Id()


class CallEnded(Schema):
    room = fields.String()
    reason = fields.String()


class SignalOut(Schema):
    room = fields.String()
    sender = Id(data_key="from")
    data = fields.Raw()


class IceServer(Schema):
    urls = fields.List(fields.String())
    username = fields.String()
    credential = fields.String()


class IceServersResponse(Schema):
    iceServers = fields.List(fields.Nested(IceServer), metadata={
        "description": "the RTCConfiguration's iceServers: STUN, and TURN with credentials"})
    ttl = fields.Integer(metadata={"description": "seconds the TURN credentials are valid"})


class HistoryEntry(Schema):
    _id = Id()
    room = fields.String()
    kind = fields.String()
    rideId = Id(allow_none=True)
    joinedAt = Timestamp()
    leftAt = Timestamp(allow_none=True)


class CallHistoryResponse(Schema):
    calls = fields.List(fields.Nested(HistoryEntry), metadata={"description": "newest first"})
    next = fields.String(allow_none=True, metadata={
        "description": "`before` of the older page, or null on the last one"})


class CallHistoryQuery(CursorQuery):
    """`?limit=` (1-100, default 20) and `?before=` (the `next` of the previous page)."""

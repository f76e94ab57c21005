"""Request, response and event schemas of the chat (/messages). The dumping schemas are
allow-lists: a message never shows `seenAt` or its idempotency key, a sidebar account
never shows its email."""
import base64
import binascii

from bson import ObjectId
from bson.errors import InvalidId
from marshmallow import ValidationError, fields, post_load, pre_load, validate, validates_schema

from shared.idempotency.decorator import KEY_MAX, KEY_PATTERN
from shared.schemas import CursorQuery, Id, PublicProfile, Schema, Timestamp, limit_field

TEXT_LENGTH = "Message text must be 1-2000 characters long"
CLIENT_ID_RULE = (f"clientMessageId must be 1-{KEY_MAX} visible ASCII characters (no quote "
                  "or backslash)")
IDS_MAX = 100
BAD_CURSOR = "Invalid cursor: use the `next` of a sync answer"


class SendSchema(Schema):
    text = fields.String(allow_none=True, load_default=None,
                         validate=validate.Length(min=1, max=2000, error=TEXT_LENGTH))
    image = fields.String(allow_none=True, load_default=None,
                          metadata={"description": "data URL of a PNG, JPEG or WebP image"})

    @pre_load
    def strip_text(self, data, **kwargs):
        """Surrounding spaces are dropped; a blank text is no text."""
        if isinstance(data, dict) and isinstance(data.get("text"), str):
            data = {**data, "text": data["text"].strip() or None}
        return data

    @validates_schema
    def text_or_image(self, data, **kwargs):
        if not data.get("text") and not data.get("image"):
            raise ValidationError("A message needs a text or an image", "text")


class SendMessageSchema(Schema):
    """The `send-message` socket event: a text to one account, with the client's own id
    of the message (its idempotency key)."""

    to = Id(required=True, metadata={"description": "the account you are writing to"})
    text = fields.String(required=True,
                         validate=validate.Length(min=1, max=2000, error=TEXT_LENGTH))
    clientMessageId = fields.String(load_default=None, validate=validate.Regexp(
        rf"^{KEY_PATTERN.pattern}\Z", error=CLIENT_ID_RULE), metadata={
        "description": "the client's id of this message (e.g. a UUID): a retry with it "
                       "returns the stored message and pushes nothing"})

    @pre_load
    def strip_text(self, data, **kwargs):
        """Surrounding spaces are dropped (a blank text is refused)."""
        if isinstance(data, dict) and isinstance(data.get("text"), str):
            data = {**data, "text": data["text"].strip()}
        return data


class ConversationQuery(CursorQuery):
    """`?limit=` (1-100, default 50) and `?before=` (a message id). `before` is checked
    only once the other fields are valid, so a bad limit is reported alone."""

    limit = limit_field(50)
    before = fields.String(load_default=None, metadata={
        "pattern": "^[0-9a-fA-F]{24}$",
        "description": "a message id: the `next` of the newer page"})

    @post_load
    def before_id(self, data, **kwargs):
        if data["before"] is not None:
            try:
                data["before"] = ObjectId(data["before"])
            except (InvalidId, TypeError):
                raise ValidationError("Invalid id", "before") from None
        return data


class SeenSchema(Schema):
    upTo = Id(load_default=None, metadata={"description": (
        "the newest message received from this account that was shown; omitted: the "
        "newest one received")})


class DeliveredSchema(Schema):
    """The messages the caller's client has received (socket event and route)."""

    messageIds = fields.List(Id(), required=True, validate=validate.Length(
        min=1, max=IDS_MAX, error=f"Give 1-{IDS_MAX} message ids"))


class TypingSchema(Schema):
    to = Id(required=True, metadata={"description": "the account you are writing to"})
    active = fields.Boolean(load_default=True, metadata={
        "description": "false: stopped typing (before TYPING_SECONDS)"})


class SyncQuery(Schema):
    """`?since=` (a cursor: the `next` of the previous answer; omitted: no changes,
    only a cursor to start from) and `?limit=` (1-100, default 50)."""

    since = fields.String(load_default=None, metadata={
        "description": "the `next` of the previous sync; omitted: a cursor to start from"})
    limit = limit_field(50)

    @post_load
    def since_id(self, data, **kwargs):
        if data["since"] is not None:
            data["since"] = parse_cursor(data["since"])
        return data


def parse_cursor(text):
    """The change id a sync cursor stands for; ValidationError otherwise."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValidationError(BAD_CURSOR, "since") from None
    if len(raw) != 12:
        raise ValidationError(BAD_CURSOR, "since")
    return ObjectId(raw)


def cursor_text(change_id):
    """The opaque cursor of a change id."""
    return base64.urlsafe_b64encode(change_id.binary).decode().rstrip("=")


class MessageOut(Schema):
    _id = Id()
    senderId = Id()
    receiverId = Id()
    text = fields.String(allow_none=True)
    image = fields.String(allow_none=True, metadata={"description": "a /media/<id> URL"})
    createdAt = Timestamp()
    deliveredAt = Timestamp(allow_none=True, dump_default=None, metadata={
        "description": "when the receiver's client acknowledged it, or null"})
    seen = fields.Boolean(metadata={"description": "under the receiver's seen mark"})


class MarkOut(Schema):
    """`readerId` has seen every message of `senderId` up to `upTo`."""

    readerId = Id()
    senderId = Id()
    upTo = Id()
    seenAt = Timestamp()


class SidebarResponse(Schema):
    users = fields.List(fields.Nested(PublicProfile))
    unseen = fields.Dict(keys=Id(), values=fields.Integer(),
                         metadata={"description": "sender id -> unseen count"})


class ConversationResponse(Schema):
    messages = fields.List(fields.Nested(MessageOut), metadata={"description": "oldest first"})
    next = fields.String(allow_none=True, metadata={
        "description": "`before` of the older page, or null on the oldest one"})


class SentResponse(Schema):
    newMessage = fields.Nested(MessageOut, metadata={
        "description": "the message, as its `newMessage` push carries it"})


class SeenResponse(Schema):
    mark = fields.Nested(MarkOut, allow_none=True, metadata={
        "description": "your mark on this account's messages (null: none yet)"})
    unseen = fields.Integer(metadata={"description": "messages from it not seen yet"})


class DeliveredResponse(Schema):
    delivered = fields.List(Id(), metadata={"description": "the ids newly delivered"})


class SyncResponse(Schema):
    messages = fields.List(fields.Nested(MessageOut), metadata={
        "description": "messages sent or received since the cursor, or whose "
                       "delivery changed, in change order"})
    marks = fields.List(fields.Nested(MarkOut), metadata={
        "description": "seen marks that moved: yours (other devices) and your peers'"})
    unseen = fields.Dict(keys=Id(), values=fields.Integer(),
                         metadata={"description": "sender id -> unseen count, now"})
    next = fields.String(metadata={"description": "the cursor of the next sync"})
    more = fields.Boolean(metadata={"description": "true: sync again at once with `next`"})


class MessagesSeenEvent(MarkOut):
    """`messages-seen`: to the sender, and (with `unseen`) to the reader's connections."""

    unseen = fields.Integer(metadata={
        "description": "to the reader's own connections: messages from the sender not "
                       "seen yet"})


class MessagesDeliveredEvent(Schema):
    """`message-delivered`, to the sender of the messages."""

    receiverId = Id()
    messageIds = fields.List(Id())
    deliveredAt = Timestamp()


class TypingEvent(Schema):
    """`typing`, to the account written to."""

    from_ = Id(data_key="from")
    active = fields.Boolean()

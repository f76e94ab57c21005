"""Request, response and event schemas of the chat (/messages). The dumping schemas are
allow-lists: a message never shows `seenAt`, a sidebar account never shows its email."""
from bson import ObjectId
from bson.errors import InvalidId
from marshmallow import ValidationError, fields, post_load, pre_load, validate, validates_schema

from shared.schemas import CursorQuery, Id, PublicProfile, Schema, Timestamp, limit_field

TEXT_LENGTH = "Message text must be 1-2000 characters long"
KEY_LENGTH = 200


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


class SendHeaders(Schema):
    """`Idempotency-Key`: a retry of a send with the same key returns the first message."""

    key = fields.String(data_key="Idempotency-Key", load_default=None,
                        validate=validate.Length(min=1, max=KEY_LENGTH, error=(
                            f"Idempotency-Key must be 1-{KEY_LENGTH} characters long")),
                        metadata={"description": (
                            "any unique string per message (e.g. a UUID): a retry with "
                            "the same key returns the first message, stored and pushed once")})


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


class MessageOut(Schema):
    _id = Id()
    senderId = Id()
    receiverId = Id()
    text = fields.String(allow_none=True)
    image = fields.String(allow_none=True, metadata={"description": "a /media/<id> URL"})
    seen = fields.Boolean()
    createdAt = Timestamp()


class SidebarResponse(Schema):
    success = fields.Boolean()
    users = fields.List(fields.Nested(PublicProfile))
    unseenMessages = fields.Dict(keys=Id(), values=fields.Integer(),
                                 metadata={"description": "sender id -> unseen count"})


class ConversationResponse(Schema):
    success = fields.Boolean()
    messages = fields.List(fields.Nested(MessageOut), metadata={"description": "oldest first"})
    next = fields.String(allow_none=True, metadata={
        "description": "`before` of the older page, or null on the oldest one"})


class SentResponse(Schema):
    success = fields.Boolean()
    newMessage = fields.Nested(MessageOut)


class MessagesSeenEvent(Schema):
    """`messagesSeen`, to the sender of the messages."""

    by = Id(metadata={"description": "the receiver who read them"})
    messageIds = fields.List(Id())

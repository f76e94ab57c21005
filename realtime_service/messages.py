"""Chat routes (/messages), in the shapes of the QuickChat tutorial.

Both roles use them (see chat_rules.py for who may talk to whom). A new message is
stored before it is pushed: `newMessage` goes to every connection of the receiver and
to the sender's other connections (the sending tab may name its own socket in
`X-Socket-ID` so it is skipped); `messagesSeen` tells a sender which of its messages
were read.
"""
from flask import Blueprint, g, request
from marshmallow import ValidationError, fields, pre_load, validate, validates_schema

from realtime_service import chat_rules, presence
from realtime_service.app import socketio
from shared import media
from shared.models import accounts, messages
from shared.openapi import doc
from shared.tokens import auth_required, current_account
from shared.validation import Schema, image_body, json_body, load, load_query, object_id

bp = Blueprint("messages", __name__, url_prefix="/messages")

SIDEBAR_FIELDS = {"fullname": 1, "profilePic": 1, "bio": 1, "createdAt": 1}


class SendSchema(Schema):
    text = fields.String(allow_none=True, load_default=None, validate=validate.Length(
        min=1, max=2000, error="Message text must be 1-2000 characters long"))
    image = fields.String(allow_none=True, load_default=None,
                          metadata={"description": "data URL of a PNG, JPEG or WebP image"})

    @pre_load
    def strip_text(self, data, **kwargs):
        if isinstance(data.get("text"), str):
            data = {**data, "text": data["text"].strip() or None}
        return data

    @validates_schema
    def text_or_image(self, data, **kwargs):
        if not data.get("text") and not data.get("image"):
            raise ValidationError("A message needs a text or an image", "text")


class PageSchema(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=100))
    before = fields.String(load_default=None, metadata={"description": "a message id"})


class MessageSchema(Schema):
    _id = fields.String()
    senderId = fields.String()
    receiverId = fields.String()
    text = fields.String(allow_none=True)
    image = fields.String(allow_none=True)
    seen = fields.Boolean()
    createdAt = fields.String()


class SidebarUserSchema(Schema):
    _id = fields.String()
    fullname = fields.Dict()
    profilePic = fields.String(allow_none=True)
    bio = fields.String()


class SidebarSchema(Schema):
    success = fields.Boolean()
    users = fields.List(fields.Nested(SidebarUserSchema))
    unseenMessages = fields.Dict(keys=fields.String(), values=fields.Integer(),
                                 metadata={"description": "sender id -> unseen count"})


class ConversationSchema(Schema):
    success = fields.Boolean()
    messages = fields.List(fields.Nested(MessageSchema))
    next = fields.String(allow_none=True, metadata={"description": "`before` of the older page"})


class SentSchema(Schema):
    success = fields.Boolean()
    newMessage = fields.Nested(MessageSchema)


class SuccessSchema(Schema):
    success = fields.Boolean()


def me():
    return current_account()["_id"]


@bp.get("/users")
@auth_required("any")
@doc(responses={200: SidebarSchema}, auth="any", summary="Chat sidebar")
def sidebar():
    """For a user: every other user (public fields, no email). For a captain: the
    riders of its accepted or ongoing rides. `unseenMessages` counts, per sender,
    the messages to the caller not seen yet (from anyone, in one aggregation)."""
    if g.role == "user":
        query = {"_id": {"$ne": me()}}
    else:
        query = {"_id": {"$in": chat_rules.riders_of_active_rides(me())}}
    users = accounts.collection("user").find(query, SIDEBAR_FIELDS).sort("_id", 1)
    return {"success": True, "users": [accounts.public(user) for user in users],
            "unseenMessages": messages.unseen_counts(me())}


@bp.get("/<other_id>")
@auth_required("any")
@doc(query=PageSchema, responses={200: ConversationSchema, 403: None, 404: None}, auth="any",
     summary="A conversation, oldest first")
def conversation(other_id):
    """The caller's conversation with one account, oldest first: the latest `limit`
    messages, or those before the message id `before` (the `next` of the previous
    page). Marks the messages sent to the caller as seen and sends `messagesSeen`
    to their sender."""
    other_id = object_id(other_id)
    page = load_query(PageSchema())
    before = object_id(page["before"], "before", "query") if page["before"] else None
    chat_rules.chat_partner(current_account(), g.role, other_id, writing=False)
    found, older = messages.conversation(me(), other_id, page["limit"], before)
    seen_ids = messages.mark_seen_from(other_id, me())
    for message in found:  # all seen now, by this call or by a concurrent mark
        if message["receiverId"] == me():
            message["seen"] = True
    if seen_ids:
        presence.push(other_id, "messagesSeen",
                      {"by": str(me()), "messageIds": [str(i) for i in seen_ids]})
    return {"success": True, "messages": [messages.public(m) for m in found],
            "next": str(found[0]["_id"]) if older and found else None}


@bp.put("/mark/<message_id>")
@auth_required("any")
@doc(responses={200: SuccessSchema, 403: None, 404: None}, auth="any",
     summary="Mark one message seen")
def mark_seen(message_id):
    """Mark a message seen; only its receiver may (its sender gets 403, anyone else
    404). Sends `messagesSeen` to the sender when the message was unseen."""
    message_id = object_id(message_id)
    marked = messages.mark_one_seen(message_id, me())
    if marked is None:
        message = messages.find(message_id)
        if message is None or me() not in (message["senderId"], message["receiverId"]):
            return {"message": "Message not found"}, 404
        if message["receiverId"] != me():
            return {"message": "Only the receiver can mark a message seen"}, 403
    else:
        presence.push(marked["senderId"], "messagesSeen",
                      {"by": str(me()), "messageIds": [str(message_id)]})
    return {"success": True}


@bp.post("/send/<other_id>")
@auth_required("any")
@image_body
@doc(body=SendSchema, responses={201: SentSchema, 403: None, 404: None}, auth="any",
     summary="Send a message")
def send(other_id):
    """Send a text and/or an image (a data URL, stored like profile pictures and
    replaced by its URL). The message is stored, then pushed as `newMessage` to the
    receiver's connections and to the sender's other connections (all of them, or
    all but the socket named in the `X-Socket-ID` header)."""
    other_id = object_id(other_id)
    data = load(SendSchema(), json_body())
    chat_rules.chat_partner(current_account(), g.role, other_id, writing=True)
    image = media.save_image(data["image"], me(), param="image") if data["image"] else None
    message = messages.public(messages.create(me(), other_id, data["text"], image))
    presence.push(other_id, "newMessage", message)
    socketio.emit("newMessage", message, to=str(me()),
                  skip_sid=request.headers.get("X-Socket-ID", "")[:64] or None)
    return {"success": True, "newMessage": message}, 201

"""/api/messages/...: the QuickChat frontend's chat routes.

Thin adapters over realtime_service.chat.service, like /messages/..., with
QuickChat's shapes: `{success: true, ...}`, sidebar entries with `fullName` as one
string and the counts as `unseenMessages`, a message with its `seen` flag only, a sent
one as `newMessage`, and a conversation that is the whole history (up to HISTORY_MAX
messages, oldest first; QuickChat never pages). Reading a conversation marks it seen,
and a send is pushed to the receiver only, as QuickChat's server does. Refusals by the
chat rules are 200 `{success: false, message}` (the only failure QuickChat shows); a
missing or bad token stays 401. Media URLs are absolute when PUBLIC_URL is set.
Registered only with COMPAT_ROUTES.
"""
from marshmallow import fields

from compat.quickchat.web import ChatProfileOut, CompatBlueprint, MediaUrl, Outcome, refusals
from realtime_service.chat import service
from realtime_service.chat.routes import CHAT_SEND_SCOPE
from realtime_service.chat.schemas import SendSchema
from shared.accounts.tokens import auth_required, current_account, current_role
from shared.csrf import trusted_sender
from shared.idempotency.decorator import idempotency_key, idempotent
from shared.ratelimit import limit_per_account
from shared.schemas import Id, Schema, Timestamp
from shared.validation import image_body, object_id

# The most messages a conversation answer holds (the latest ones, oldest first).
HISTORY_MAX = 2000

quickchat_chat = CompatBlueprint("compat_chat", __name__, url_prefix="/api/messages",
                     description="QuickChat compatibility: chat")


class ChatMessageOut(Schema):
    """A message as QuickChat shows it."""

    _id = Id()
    senderId = Id()
    receiverId = Id()
    text = fields.String(allow_none=True)
    image = MediaUrl(allow_none=True, metadata={"description": "an image URL, or null"})
    seen = fields.Boolean()
    createdAt = Timestamp()


class ChatSidebarResponse(Outcome):
    users = fields.List(fields.Nested(ChatProfileOut))
    unseenMessages = fields.Dict(keys=Id(), values=fields.Integer(),
                                 metadata={"description": "sender id -> unseen count"})


class ChatConversationResponse(Outcome):
    messages = fields.List(fields.Nested(ChatMessageOut), metadata={
        "description": f"oldest first, the whole conversation (at most {HISTORY_MAX})"})


class ChatSentResponse(Outcome):
    newMessage = fields.Nested(ChatMessageOut)


def me():
    return current_account()["_id"]


@quickchat_chat.get("/users")
@auth_required()
@quickchat_chat.response(200, ChatSidebarResponse)
def sidebar():
    """Chat sidebar (QuickChat's users list).

    The accounts of GET /messages/users with `fullName` as one string, and the unseen
    counts per sender."""
    users, unseen = service.sidebar(me(), current_role())
    return {"success": True, "users": users, "unseenMessages": unseen}


@quickchat_chat.get("/<other_id>")
@auth_required()
@refusals()
@quickchat_chat.response(200, ChatConversationResponse)
def conversation(other_id):
    """A whole conversation, oldest first (QuickChat's chat window).

    The latest HISTORY_MAX messages with `other_id` (QuickChat never asks for more).
    Marks the messages sent to the caller seen (moves the caller's seen mark to the
    newest of them, telling its sender), when the token came in a header or a page of
    a trusted origin asked (with the cookie alone from elsewhere it only reads). A
    conversation the chat rules forbid is 200 `{success: false, message}`."""
    found, _ = service.conversation(me(), current_role(), object_id(other_id), HISTORY_MAX)
    if trusted_sender():
        mark_read(found)
    return {"success": True, "messages": found}


def mark_read(found):
    """Move the caller's seen mark to the newest message it received in `found`, and
    show those messages seen."""
    received = [message for message in found if message["receiverId"] == me()]
    if received:
        service.mark_seen(me(), received[-1]["_id"])
        for message in received:
            message["seen"] = True


@quickchat_chat.put("/mark/<message_id>")
@auth_required()
@refusals()
@quickchat_chat.response(200, Outcome)
def mark_seen(message_id):
    """Mark one message seen.

    Moves the caller's seen mark on its sender's messages to it (never back). Only its
    receiver may; anyone else gets 200 `{success: false, message}`."""
    service.mark_seen(me(), object_id(message_id))
    return {"success": True}


@quickchat_chat.post("/send/<other_id>")
@image_body
@auth_required()
@limit_per_account("CHAT_SEND_RATE_LIMIT", CHAT_SEND_SCOPE)
@refusals()
@idempotent
@quickchat_chat.arguments(SendSchema)
@quickchat_chat.response(201, ChatSentResponse)
@quickchat_chat.alt_response(200, schema=Outcome,
                             description="refused: `{success: false, message}`")
@quickchat_chat.errors(429)
def send(data, other_id):
    """Send a message (a text and/or an image data URL), as POST /messages/send/<id>.

    201 `{success: true, newMessage}`; the message is pushed as `newMessage` to the
    receiver's connections only, as QuickChat's server does (its frontend shows
    nothing of an echo, and cannot say which socket sent). An invalid message or one
    the chat rules refuse is 200 `{success: false, message}`. `Idempotency-Key` as on
    POST /messages/send/<id>."""
    message, new = service.store(me(), current_role(), object_id(other_id), data["text"],
                                 data["image"], idempotency_key())
    if new:
        service.tell_receiver(message)
    return {"success": True, "newMessage": message}

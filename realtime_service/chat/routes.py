"""Chat routes (/messages). Both roles use them; realtime_service.chat.service holds who
may talk to whom. Each route parses, calls the service and responds."""
from flask import request

from realtime_service.chat import service
from realtime_service.chat.schemas import (
    ConversationQuery,
    ConversationResponse,
    SendHeaders,
    SendSchema,
    SentResponse,
    SidebarResponse,
)
from shared.accounts.tokens import auth_required, current_account, current_role
from shared.csrf import trusted_sender
from shared.ratelimit import limit_per_account
from shared.schemas import Success
from shared.validation import image_body, object_id
from shared.web import Blueprint

chat_routes = Blueprint("messages", __name__, url_prefix="/messages",
               description="Chat between users, and between a rider and its captain")

SOCKET_ID_LENGTH = 64
CHAT_SEND_SCOPE = "chat-sends"  # one CHAT_SEND_RATE_LIMIT budget for every send route


def me():
    return current_account()["_id"]


@chat_routes.get("/users")
@auth_required()
@chat_routes.response(200, SidebarResponse)
def sidebar():
    """Chat sidebar.

    For a user: every other user (public fields, no email). For a captain: the rider
    of its accepted or ongoing ride. `unseenMessages` counts, per sender, the
    messages to the caller not seen yet (from anyone, in one aggregation)."""
    users, unseen = service.sidebar(me(), current_role())
    return {"success": True, "users": users, "unseenMessages": unseen}


@chat_routes.get("/<other_id>")
@auth_required()
@chat_routes.arguments(ConversationQuery, location="query")
@chat_routes.response(200, ConversationResponse)
@chat_routes.errors(403, 404)
def conversation(query, other_id):
    """A conversation, oldest first.

    The caller's conversation with one account: the latest `limit` messages, or those
    before the message id `before` (the `next` of the previous page). Marks the
    messages sent to the caller as seen and sends `messagesSeen` to their sender, when
    the token came in a header or a page of a trusted origin asked (with the cookie
    alone from elsewhere it only reads; PUT /messages/mark/{id} marks one)."""
    found, next_before = service.conversation(me(), current_role(), object_id(other_id),
                                              query["limit"], query["before"],
                                              mark=trusted_sender())
    return {"success": True, "messages": found, "next": next_before}


@chat_routes.put("/mark/<message_id>")
@auth_required()
@chat_routes.response(200, Success)
@chat_routes.errors(400, 403, 404)
def mark_seen(message_id):
    """Mark one message seen.

    Only its receiver may (its sender gets 403, anyone else 404). Sends
    `messagesSeen` to the sender when the message was unseen."""
    service.mark_seen(me(), object_id(message_id))
    return {"success": True}


@chat_routes.post("/send/<other_id>")
@image_body
@auth_required()
@limit_per_account("CHAT_SEND_RATE_LIMIT", CHAT_SEND_SCOPE)
@chat_routes.arguments(SendSchema)
@chat_routes.arguments(SendHeaders, location="headers")
@chat_routes.response(201, SentResponse)
@chat_routes.errors(403, 404, 429)
def send(data, headers, other_id):
    """Send a message.

    A text and/or an image (a data URL, stored like profile pictures and replaced by
    its URL). The message is stored, then pushed as `newMessage` to the receiver's
    connections and to the sender's other connections (all of them, or all but the
    socket named in the `X-Socket-ID` header). A retry with the `Idempotency-Key` of
    a stored message answers that message again, and stores and pushes nothing."""
    skip_sid = request.headers.get("X-Socket-ID", "")[:SOCKET_ID_LENGTH] or None
    message = service.send(me(), current_role(), object_id(other_id), data["text"],
                            data["image"], skip_sid, headers["key"])
    return {"success": True, "newMessage": message}

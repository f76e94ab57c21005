"""Chat routes (/messages). Both roles use them; realtime_service.chat.service holds who
may talk to whom. Each route parses, calls the service and responds."""
from flask import request

from realtime_service.chat import service
from realtime_service.chat.schemas import (
    ConversationQuery,
    ConversationResponse,
    DeliveredResponse,
    DeliveredSchema,
    SeenResponse,
    SeenSchema,
    SendSchema,
    SentResponse,
    SidebarResponse,
    SyncQuery,
    SyncResponse,
    cursor_text,
)
from shared.accounts.tokens import auth_required, current_account, current_role
from shared.idempotency.decorator import idempotency_key, idempotent
from shared.ratelimit import limit_per_account
from shared.validation import image_body, object_id
from shared.web import Blueprint

chat_routes = Blueprint("messages", __name__, url_prefix="/messages",
               description="Chat between users, and between a rider and its captain")

SOCKET_ID_LENGTH = 64
CHAT_SEND_SCOPE = service.SEND_SCOPE  # one CHAT_SEND_RATE_LIMIT budget for every send


def me():
    return current_account()["_id"]


def socket_id():
    """The caller's socket named in `X-Socket-ID` (not told of its own change), or None."""
    return request.headers.get("X-Socket-ID", "")[:SOCKET_ID_LENGTH] or None


@chat_routes.get("/users")
@auth_required()
@chat_routes.response(200, SidebarResponse)
def sidebar():
    """Chat sidebar.

    For a user: every other user (public fields, no email). For a captain: the rider
    of its accepted or ongoing ride. `unseen` counts, per sender, the messages to the
    caller not seen yet (from anyone, in one aggregation)."""
    users, unseen = service.sidebar(me(), current_role())
    return {"users": users, "unseen": unseen}


@chat_routes.get("/sync")
@auth_required()
@chat_routes.arguments(SyncQuery, location="query")
@chat_routes.response(200, SyncResponse)
def sync(query):
    """What changed since a cursor, in every conversation.

    For a client that was away longer than the socket's recovery window: the messages
    sent or received since `since`, or whose delivery changed (their state now), and
    the seen marks that moved (yours from other devices, your peers' on your
    messages), in change order, `limit` at a time; then sync again with `next` (at
    once while `more`). Changes of the last seconds may come twice: apply them by id.
    Without `since`: no changes, only a cursor to start from."""
    found, marks, unseen, cursor, more = service.sync(me(), query["since"], query["limit"])
    return {"messages": found, "marks": marks, "unseen": unseen,
            "next": cursor_text(cursor), "more": more}


@chat_routes.post("/delivered")
@auth_required()
@chat_routes.arguments(DeliveredSchema)
@chat_routes.response(200, DeliveredResponse)
@chat_routes.errors(403, 404)
def delivered(data):
    """Acknowledge received messages (for a client without a socket).

    As the `message-delivered` socket event: the messages' senders get
    `message-delivered`. Only their receiver may (403 for a sender, 404 for anyone
    else; nothing changes then)."""
    return {"delivered": service.mark_delivered(me(), data["messageIds"])}


@chat_routes.get("/<other_id>")
@auth_required()
@chat_routes.arguments(ConversationQuery, location="query")
@chat_routes.response(200, ConversationResponse)
@chat_routes.errors(403, 404)
def conversation(query, other_id):
    """A conversation, oldest first.

    The caller's conversation with one account: the latest `limit` messages, or those
    before the message id `before` (the `next` of the previous page). Reading marks
    nothing seen: POST /messages/{other_id}/seen does."""
    found, next_before = service.conversation(me(), current_role(), object_id(other_id),
                                              query["limit"], query["before"])
    return {"messages": found, "next": next_before}


@chat_routes.post("/<other_id>/seen")
@auth_required()
@chat_routes.arguments(SeenSchema)
@chat_routes.response(200, SeenResponse)
@chat_routes.errors(403, 404)
def mark_seen(data, other_id):
    """Mark the messages of one account seen, up to one of them.

    Moves your seen mark on `other_id`'s messages to `upTo` (a message they sent you),
    never back: an older one changes nothing and answers the mark as it is. When it
    moved, `other_id` and your other connections (all, or all but the socket named in
    `X-Socket-ID`) get `messages-seen`."""
    mark, unseen = service.mark_seen(me(), data["upTo"], object_id(other_id), socket_id())
    return {"mark": mark, "unseen": unseen}


@chat_routes.post("/send/<other_id>")
@image_body
@auth_required()
@limit_per_account("CHAT_SEND_RATE_LIMIT", CHAT_SEND_SCOPE)
@idempotent
@chat_routes.arguments(SendSchema)
@chat_routes.response(201, SentResponse)
@chat_routes.errors(403, 404, 429)
def send(data, other_id):
    """Send a message.

    A text and/or an image (a data URL, stored like profile pictures and replaced by
    its URL). The message is stored, then pushed as `newMessage` to the receiver's
    connections and to the sender's other connections (all of them, or all but the
    socket named in the `X-Socket-ID` header). A retry with the `Idempotency-Key` of
    a stored message answers that message again, and stores and pushes nothing."""
    message = service.send(me(), current_role(), object_id(other_id), data["text"],
                           data["image"], socket_id(), idempotency_key())
    return {"newMessage": message}

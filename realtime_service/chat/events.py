"""The chat events of the realtime namespace (a mixin of `RealtimeNamespace`): the
receiver's client acknowledging messages, and the typing indicator. Each parses,
calls realtime_service.chat.service, which holds the rules, and acknowledges."""
from bson import ObjectId
from flask import session

from realtime_service.chat.schemas import DeliveredSchema, TypingSchema
from realtime_service.chat.service import mark_delivered, typing
from realtime_service.sockets import event_limits
from realtime_service.sockets.events import limited, parse, refuse_event
from shared.errors import Unauthorized

TYPING_SCOPE = "chat-typing"
TOO_MANY_TYPING = "Too many typing events, slow down"
# Built once: a marshmallow schema deep-copies its fields on every instantiation.
DELIVERED, TYPING = DeliveredSchema(), TypingSchema()


class ChatEvents:
    @limited
    def on_message_delivered(self, data=None):
        """`{messageIds}`: this client has these messages (it received them); their
        senders get `message-delivered`. Acknowledged with {"ok": true, "delivered"}
        (the ids newly delivered)."""
        ids = parse(DELIVERED, data)["messageIds"]
        return {"ok": True, "delivered": [str(i) for i in mark_delivered(account(), ids)]}

    @limited
    def on_typing(self, data=None):
        """`{to, active}`: relayed to every connection of `to` as `typing` {from, active},
        if the chat lets you write to them; within CHAT_TYPING_RATE_LIMIT per socket."""
        if event_limits.socket_over_limit("CHAT_TYPING_RATE_LIMIT", TYPING_SCOPE):
            return refuse_event(TOO_MANY_TYPING)
        event = parse(TYPING, data)
        typing(account(), session["role"], event["to"], event["active"])
        return {"ok": True}


def account():
    """The socket's account id; an anonymous socket is refused."""
    if session.get("account_id") is None:
        raise Unauthorized("Authentication required")
    return ObjectId(session["account_id"])

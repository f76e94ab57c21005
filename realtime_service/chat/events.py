"""The chat events of the realtime namespace (a mixin of `RealtimeNamespace`): sending
a message over the socket, the receiver's client acknowledging messages, and the typing
indicator. Each parses, calls realtime_service.chat.service, which holds the rules, and
acknowledges."""
from bson import ObjectId
from flask import current_app, request, session
from limits import parse_many

from realtime_service.chat.schemas import DeliveredSchema, SendMessageSchema, TypingSchema
from realtime_service.chat.service import MESSAGE, SEND_SCOPE, mark_delivered, send, typing
from realtime_service.sockets import event_limits
from realtime_service.sockets.events import limited, parse, refuse_event
from shared.errors import Unauthorized
from shared.extensions import LIMITER_PREFIX, limiter

TYPING_SCOPE = "chat-typing"
TOO_MANY_TYPING = "Too many typing events, slow down"
TOO_MANY_SENDS = "Too many messages, try again later"
# Built once: a marshmallow schema deep-copies its fields on every instantiation.
DELIVERED, TYPING, SEND = DeliveredSchema(), TypingSchema(), SendMessageSchema()


class ChatEvents:
    @limited
    def on_send_message(self, data=None):
        """`{to, text, clientMessageId}`: store the message and push `newMessage` to
        `to` and to the sender's other connections, as POST /messages/send/<id> does,
        over the socket's own identity (no token check, no account lookup). A retry
        with the same `clientMessageId` returns the stored message and pushes nothing.
        Acknowledged with {"ok": true, "newMessage"} once stored."""
        me_id = account()
        if send_over_limit():
            return refuse_event(TOO_MANY_SENDS)
        event = parse(SEND, data)
        message = send(me_id, session["role"], event["to"], event["text"],
                       skip_sid=request.sid, key=event["clientMessageId"],
                       key_name="clientMessageId")
        return {"ok": True, "newMessage": MESSAGE.dump(message)}

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


def send_over_limit():
    """Count one send against the account's CHAT_SEND_RATE_LIMIT, the very budget its
    HTTP sends spend (flask-limiter's key and scope); whether it went over."""
    if not current_app.config.get("RATELIMIT_ENABLED") or not limiter.enabled:
        return False
    keys = [LIMITER_PREFIX, event_limits.event_key(), SEND_SCOPE]
    return not all(limiter.limiter.hit(item, *keys)
                   for item in parse_many(current_app.config["CHAT_SEND_RATE_LIMIT"]))


def account():
    """The socket's account id; an anonymous socket is refused."""
    if session.get("account_id") is None:
        raise Unauthorized("Authentication required")
    return ObjectId(session["account_id"])

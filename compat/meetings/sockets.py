"""The video-meeting frontend's socket events, on the calls domain.

Its rooms are meetings whose code the users choose, speaking `MeetingProtocol`:
members are named by their Socket.IO socket id (the frontend compares them with
`socket.id`), every event carries positional arguments, and:

- `join-call (url)`: the page's URL; its path's one segment is the meeting code, so the
  room is `meeting:<code>` whatever the host, query or fragment. The first joiner opens
  it. Every member, the joiner included, hears `user-joined (joinerId, ids)` (the ids
  in join order, the joiner last); the joiner then hears the room's stored chat, each
  message as `chat-message (text, name, senderId)`. A socket is in one such room: a
  join of another code leaves the previous one.
- `signal (toId, message)`: `message` (a JSON string, `{"sdp"}` or `{"ice"}`) relayed
  as it came, as `signal (fromId, message)`, to the member `toId` of the sender's
  room only. Any other form of `signal` is Ridewire's `signal {room, to, data}`.
- `chat-message (text, name)`: `name` is the one typed in the lobby (the member's name
  when blank); stored with the room (the latest CALL_CHAT_HISTORY) and sent to every
  member, the sender included, as `chat-message (text, name, senderId)`.
- A member's socket that closes is taken out; the others hear `user-left (id)`.

A socket authenticated by the login's cookie joins as its account (its joins are its
history); an anonymous page of the gateway's origin (compat.sockets) joins as a guest
when CALL_GUESTS is on, at most CALL_GUEST_RATE_LIMIT joins per address. Refusals
answer `error {message}`, as every event's.
"""
from urllib.parse import unquote, urlsplit

from flask import session
from marshmallow import fields, validate

from compat.meetings.web import code_problem
from realtime_service.calls.events import (
    TOO_MANY_SIGNALS,
    caller,
    limit_guest_joins,
    signal_event,
    signals_over_limit,
    track_calls,
)
from realtime_service.calls.protocols import Protocol, add_protocol, sids
from realtime_service.calls.service import (
    NOT_IN_CALL,
    join_meeting,
    leave_call,
)
from realtime_service.calls.signaling import post_call_message, relay_signal
from realtime_service.extensions import socketio
from realtime_service.sockets import notifier
from realtime_service.sockets.events import limited, parse, refuse_event
from shared.errors import BadRequest, Forbidden, NotFound
from shared.schemas import Schema

PROTOCOL = "meetings"
ROOM = "meeting_room"  # the session key of the socket's room
URL_MAX = 2048
NAME_MAX = 50


class ChatLineSchema(Schema):
    text = fields.String(required=True, validate=validate.Length(
        min=1, max=2000, error="Message text must be 1-2000 characters long"))
    name = fields.String(load_default=None, allow_none=True)


CHAT_LINE = ChatLineSchema()


class MeetingProtocol(Protocol):
    """The frontend's events, members named by socket id."""

    by_socket = True

    def member_joined(self, call, members, joiner):
        ids = sids(members)
        notifier.to_sockets(ids, "user-joined", (joiner["sid"], ids))
        for message in call.get("messages", []):
            notifier.to_socket(joiner["sid"], "chat-message", as_chat_line(message))

    def member_left(self, call, member, replaced=False):
        notifier.to_sockets(sids(call["members"], but=member["sid"]), "user-left", member["sid"])

    def signal(self, call, sender, target, data):
        notifier.to_socket(target["sid"], "signal", (sender["sid"], data))

    def message(self, call, message):
        notifier.to_sockets(sids(call["members"]), "chat-message", as_chat_line(message))

    def ended(self, call, reason):
        """The frontend knows no end: each member sees the others leave."""
        for member in call["members"]:
            self.member_left(call, member)


def as_chat_line(message):
    """`chat-message`'s arguments: (text, name, the sender's socket id)."""
    return message["text"], message["senderName"], message.get("sid")


def init_meeting_sockets(app):
    """Speak the protocol and take the frontend's events (Ridewire's `signal` too)."""
    add_protocol(PROTOCOL, MeetingProtocol())
    socketio.on_event("join-call", limited(on_join_call), namespace="/")
    socketio.on_event("signal", on_signal, namespace="/")
    socketio.on_event("chat-message", limited(on_chat_message), namespace="/")


def meeting_code(url):
    """The meeting code of the page URL that `join-call` sends: its path's one segment,
    percent-decoded."""
    if not isinstance(url, str) or len(url) > URL_MAX:
        raise BadRequest("join-call takes the page's URL")
    segments = [part for part in urlsplit(url).path.split("/") if part]
    code = unquote(segments[0]) if len(segments) == 1 else ""
    problem = code_problem(code)
    if problem:
        raise BadRequest(problem)
    return code


def on_join_call(url=None):
    """Join the meeting of the page's URL; once in, leave this socket's previous one."""
    code = meeting_code(url)
    joiner = caller(guests=True)
    limit_guest_joins(joiner)
    room = join_meeting(code, joiner, PROTOCOL)["room"]
    track_calls()
    previous, session[ROOM] = session.get(ROOM), room
    if previous not in (None, room):
        leave_room(previous, joiner)
    return {"ok": True}


def leave_room(room, member):
    try:
        leave_call(room, member)
    except NotFound:  # left already (its call ended)
        pass


def socket_room():
    """The room this socket joined with `join-call`."""
    room = session.get(ROOM)
    if room is None:
        raise Forbidden(NOT_IN_CALL)
    return room


def is_frontend_signal(args):
    return len(args) == 2 and all(isinstance(arg, str) for arg in args)


def on_signal(*args):
    """The frontend's `signal (toId, message)`; any other form is Ridewire's."""
    if not is_frontend_signal(args):
        return signal_event(*args[:1])
    return relay(*args)


@limited
def relay(to, message):
    """Relay `message` as it came to the member `to` of this socket's room."""
    if signals_over_limit():
        return refuse_event(TOO_MANY_SIGNALS)
    relay_signal(socket_room(), caller(guests=True), to, message)
    return {"ok": True}


def on_chat_message(text=None, name=None):
    """A chat line to every member of this socket's room, the sender included."""
    line = parse(CHAT_LINE, {"text": text.strip() if isinstance(text, str) else text,
                             "name": name})
    shown = line["name"].strip()[:NAME_MAX] if line["name"] else None
    post_call_message(socket_room(), caller(guests=True), line["text"], shown or None)
    return {"ok": True}

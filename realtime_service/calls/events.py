"""The call events of the realtime namespace (a mixin of `RealtimeNamespace`): each
parses, calls realtime_service.calls.service, which holds the rules, and acknowledges.

A layer above that registers events of its own for other clients' calls uses
`caller` (with guests), `limit_guest_joins` and `track_calls` as these do; one that
takes the `signal` event over for another argument form hands Ridewire's form on to
`signal_event`."""
from bson import ObjectId
from flask import current_app, request, session
from pymongo.errors import PyMongoError

from realtime_service.calls.schemas import (
    CallMessageSchema,
    CallOut,
    CallStartSchema,
    JoinedCall,
    RoomSchema,
    SignalSchema,
)
from realtime_service.calls.service import (
    GUEST,
    Caller,
    end_call,
    join_call,
    leave_call,
    leave_calls_of_socket,
    start_call,
)
from realtime_service.calls.signaling import post_call_message, relay_signal
from realtime_service.extensions import socketio
from realtime_service.sockets import event_limits
from realtime_service.sockets.events import limited, parse, refuse_event
from shared.errors import TooManyRequests, Unauthorized

SIGNAL_SCOPE = "call-signals"
TOO_MANY_SIGNALS = "Too many signals, slow down"
GUEST_SCOPE = "call-guest-joins"
TOO_MANY_GUESTS = "Too many guest joins from this address, try again later"
# Built once: a marshmallow schema deep-copies its fields on every instantiation.
CALL_START, ROOM, SIGNAL, CALL_MESSAGE = (CallStartSchema(), RoomSchema(), SignalSchema(),
                                          CallMessageSchema())
CALL, JOINED_CALL = CallOut(), JoinedCall()


class CallEvents:
    @limited
    def on_call_start(self, data=None):
        """`{kind: "meeting"}`, `{kind: "ride", rideId}` or `{kind: "direct", to}`:
        open a call, ringing the other party of a ride or direct call. Acknowledged
        with {"ok": true, "room", "kind", "rideId"}."""
        start = parse(CALL_START, data)
        call = start_call(caller(), start["kind"], start["rideId"], start["to"])
        return {"ok": True, **CALL.dump(call)}

    @limited
    def on_call_join(self, data=None):
        """`{room}`: join a call. Acknowledged with the call, its `members` up to you
        (offer to each of the others) and its latest chat `messages`."""
        call = join_call(parse(ROOM, data)["room"], caller())
        track_calls()
        return {"ok": True, **JOINED_CALL.dump(call)}

    @limited
    def on_call_leave(self, data=None):
        """`{room}`: leave a call; the others are told `call-member-left`."""
        leave_call(parse(ROOM, data)["room"], caller())
        return {"ok": True}

    @limited
    def on_call_end(self, data=None):
        """`{room}`: end a call for everyone (a meeting: its creator only)."""
        end_call(parse(ROOM, data)["room"], caller())
        return {"ok": True}

    def on_signal(self, data=None):
        """`{room, to, data}`: see `signal_event`."""
        return signal_event(data)

    @limited
    def on_call_message(self, data=None):
        """`{room, text}`: a chat line to the call's other members (`call-message`);
        acknowledged with the stored message."""
        message = parse(CALL_MESSAGE, data)
        return {"ok": True, **post_call_message(message["room"], caller(), message["text"])}


@limited
def signal_event(data=None):
    """`{room, to, data}`: relay WebRTC data to the member `to` (an account id) of a
    room this socket is in; within the socket's CALL_SIGNAL_RATE_LIMIT."""
    if signals_over_limit():
        return refuse_event(TOO_MANY_SIGNALS)
    signal = parse(SIGNAL, data)
    relay_signal(signal["room"], caller(), signal["to"], signal["data"])
    return {"ok": True}


def signals_over_limit():
    """Count one signal of this socket; whether it went over CALL_SIGNAL_RATE_LIMIT."""
    return event_limits.socket_over_limit("CALL_SIGNAL_RATE_LIMIT", SIGNAL_SCOPE)


def caller(guests=False):
    """Who sends a call event: its account, role and socket. An anonymous socket is
    refused, or a guest where `guests` (the service decides what a guest may join)."""
    if session.get("account_id") is None:
        if not guests:
            raise Unauthorized("Authentication required")
        return Caller(None, GUEST, request.sid)
    return Caller(ObjectId(session["account_id"]), session["role"], request.sid)


def limit_guest_joins(joiner):
    """A guest's join counts against CALL_GUEST_RATE_LIMIT per client address."""
    if joiner.account_id is None and event_limits.address_over_limit(
            "CALL_GUEST_RATE_LIMIT", GUEST_SCOPE):
        raise TooManyRequests(TOO_MANY_GUESTS)


def track_calls():
    """The socket joined a call: its disconnection looks for its calls."""
    session["in_calls"] = True


def leave_calls_unless_back(app, sid):
    """Run PRESENCE_GRACE_SECONDS after a socket that may be recovered (under the same
    id) dropped: back by then, it renegotiates (an ICE restart) in a room that did not
    forget it; otherwise it leaves its calls."""
    if socketio.server.manager.is_connected(sid, "/"):
        return
    with app.app_context():
        leave_calls(sid)


def leave_calls(sid):
    """A closed socket that joined a call leaves its calls (the others are told)."""
    try:
        leave_calls_of_socket(sid)
    except PyMongoError:  # its calls keep it until it rejoins or they end
        current_app.logger.warning("could not take a closed socket out of its calls")

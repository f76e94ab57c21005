"""The Socket.IO namespace `/`: authenticated connections, presence announcements, the
captain's live location and the calls' events (start, join, leave, end, signal, chat).

Who connects is decided by realtime_service.sockets.identity (a token in the handshake
or the `token` cookie; never a client-stated id); the token check is
shared.accounts.tokens.authenticate, the same as every HTTP route's. Each authenticated
connection joins the room of its account and of its role; the socket's Flask session
holds `account_id`, `role`, `jti` and whether the cookie carried the token. Handlers
parse, call a service and acknowledge; `socket_error` maps every error of every event,
as the HTTP error handlers do. What a layer above adds hangs on the app's socket hooks.
"""
import functools

from bson import ObjectId
from flask import current_app, request, session
from flask_socketio import ConnectionRefusedError, Namespace, join_room
from marshmallow import fields
from pymongo.errors import PyMongoError
from redis import RedisError

from realtime_service.calls.schemas import (
    CallMessageSchema,
    CallOut,
    CallStartSchema,
    JoinedCall,
    RoomSchema,
    SignalSchema,
)
from realtime_service.calls.service import (
    Caller,
    end_call,
    join_call,
    leave_call,
    leave_calls_of_socket,
    post_call_message,
    relay_signal,
    start_call,
)
from realtime_service.extensions import socketio
from realtime_service.rides.locations import update_captain_location
from realtime_service.rides.schemas import PlaceSchema
from realtime_service.sockets import event_limits, notifier, presence, revocation
from realtime_service.sockets.hooks import hooks
from realtime_service.sockets.identity import handshake_credential
from shared.accounts.roles import Role
from shared.accounts.tokens import TokenError, authenticate
from shared.errors import ApiError, BadRequest, Forbidden, Invalid, Unauthorized
from shared.schemas import Schema
from shared.validation import load

REFUSED_GRACE_SECONDS = 0.1
UNAVAILABLE = "Service unavailable, try again later"
FAILED = "Something went wrong"
SIGNAL_SCOPE = "call-signals"
TOO_MANY_SIGNALS = "Too many signals, slow down"
# Built once: a marshmallow schema deep-copies its fields on every instantiation.
CALL_START, ROOM, SIGNAL, CALL_MESSAGE = (CallStartSchema(), RoomSchema(), SignalSchema(),
                                          CallMessageSchema())
CALL, JOINED_CALL = CallOut(), JoinedCall()


class LocationUpdateSchema(Schema):
    location = fields.Nested(PlaceSchema(only=("lat", "lng")), required=True)


def limited(handler):
    """An event over the account's SOCKET_EVENT_RATE_LIMIT is refused and does nothing."""

    @functools.wraps(handler)
    def wrapper(*args):
        if event_limits.over_limit():
            return refuse_event(event_limits.TOO_MANY)
        return handler(*args)

    return wrapper


@socketio.on_error_default
def socket_error(error):
    """Every error of every handler: a refused connection, or a refused event answered
    with `error` {"message"} and the acknowledgement {"ok": false, "message"}."""
    connecting = request.event["message"] == "connect"
    if isinstance(error, ApiError):
        message = error.message
    elif isinstance(error, PyMongoError | RedisError):
        message = UNAVAILABLE
    else:
        current_app.logger.exception("socket event %s failed", request.event["message"])
        message = FAILED
    if connecting:
        refuse(message)
    return refuse_event(message)


class RealtimeNamespace(Namespace):
    def trigger_event(self, event, *args):
        """Events are named with dashes (`update-location-captain`); handlers with
        underscores."""
        return super().trigger_event(event.replace("-", "_"), *args)

    def on_connect(self, auth=None):
        if "account_id" in session:
            return False  # an event a client named "connect", not a connection
        token, source = handshake_credential(auth)
        anonymous = hooks().anonymous
        if token is None and anonymous is not None and anonymous():
            session.update(account_id=None, role=None)
            return
        claims, account = self._authenticate(token)
        sid, role, account_id = request.sid, Role(claims["role"]), str(account["_id"])
        for check in hooks().connect_checks:
            refusal = check(account_id)
            if refusal:
                current_app.logger.warning("socket refused: %s", refusal)
                refuse(refusal)
        session.update(account_id=account_id, role=str(role), jti=claims["jti"],
                       via_cookie=source == "cookie")
        join_room(account_id)
        join_room(notifier.ROLE_ROOMS[role])
        changed = presence.connected(role, account_id, sid)
        revocation.watcher().track(sid, revocation.SocketSession(
            account_id, role, claims["jti"], claims.get("ver", 0), claims["exp"]))
        for hook in hooks().connected:
            hook(role, account["_id"], sid)
        if not transport_open(sid):
            # The client left while we were recording it; python-socketio skips the
            # disconnect handler of a connection still in its connect handler.
            forget(sid)
            raise ConnectionRefusedError("Connection closed during the handshake")
        app = current_app._get_current_object()
        start_background_tasks(app)
        # After the handler returns, so that the client is fully connected when told.
        socketio.start_background_task(_after_connect, app, role, account_id, sid, changed)

    @staticmethod
    def _authenticate(token):
        try:
            return authenticate(token)
        except TokenError as error:
            refuse(error.message)

    def on_disconnect(self, *_reason):
        if socketio.server.manager.is_connected(request.sid, "/"):
            return  # an event a client named "disconnect", not a disconnection
        forget(request.sid)

    @limited
    def on_update_location_captain(self, data=None):
        """Store the captain's position and forward it to the rider of their open
        ride. Acknowledged with {"ok": true} or {"ok": false, "message"}. Anonymous
        connections are ignored."""
        if session.get("account_id") is None:
            return {"ok": False, "message": "Authentication required"}
        if session.get("role") != Role.CAPTAIN:
            raise Forbidden("Only captains can update their location")
        location = parse_location(data)
        captain_id = ObjectId(session["account_id"])
        update_captain_location(captain_id, location)
        for hook in hooks().located:
            hook(captain_id)
        return {"ok": True}

    # Calls (realtime_service.calls.service holds the rules).

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
        session["in_calls"] = True  # its disconnection looks for its calls
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

    @limited
    def on_signal(self, data=None):
        """`{room, to, data}`: relay WebRTC data to the member `to` (an account id) of a
        room this socket is in; within the socket's CALL_SIGNAL_RATE_LIMIT."""
        if event_limits.socket_over_limit("CALL_SIGNAL_RATE_LIMIT", SIGNAL_SCOPE):
            return refuse_event(TOO_MANY_SIGNALS)
        signal = parse(SIGNAL, data)
        relay_signal(signal["room"], caller(), signal["to"], signal["data"])
        return {"ok": True}

    @limited
    def on_call_message(self, data=None):
        """`{room, text}`: a chat line to the call's other members (`call-message`);
        acknowledged with the stored message."""
        message = parse(CALL_MESSAGE, data)
        return {"ok": True, **post_call_message(message["room"], caller(), message["text"])}


def forget(sid):
    """Undo what the connection recorded; tell the users when one went offline."""
    tracked = revocation.watcher().forget(sid)
    if tracked is None:
        return
    role, account_id = tracked.role, tracked.account_id
    if session.get("in_calls"):
        leave_calls(sid)
    try:
        changed = presence.disconnected(role, account_id, sid)
    except RedisError:  # the next heartbeat rewrites this process's entries
        current_app.logger.warning("presence update failed on disconnect")
        changed = True
    for hook in hooks().disconnected:
        try:
            hook(role, ObjectId(account_id), sid, changed)
        except PyMongoError:
            current_app.logger.warning("a disconnect hook failed: database unavailable")
    if changed and role == Role.USER:
        if delta_mode():
            notifier.to_role("user", "userOffline", {"userId": account_id})
        else:
            notifier.announce_online_users()


def leave_calls(sid):
    """A closed socket that joined a call leaves its calls (the others are told)."""
    try:
        leave_calls_of_socket(sid)
    except PyMongoError:  # its calls keep it until it rejoins or they end
        current_app.logger.warning("could not take a closed socket out of its calls")


def parse_location(data):
    """{"lat", "lng"} from the payload; BadRequest with a readable message otherwise."""
    if not isinstance(data, dict):
        raise BadRequest("Expected {\"location\": {\"lat\", \"lng\"}}")
    return parse(LocationUpdateSchema(), data)["location"]


def parse(schema, data):
    """`data` loaded with `schema`; BadRequest with a readable message otherwise."""
    try:
        return load(schema, data)
    except Invalid as error:
        raise BadRequest("; ".join(
            f"{e['param']}: {e['msg']}" if e["param"] else e["msg"] for e in error.errors)
        ) from None


def caller():
    """Who sends a call event: its account, role and socket (never an anonymous one)."""
    if session.get("account_id") is None:
        raise Unauthorized("Authentication required")
    return Caller(ObjectId(session["account_id"]), session["role"], request.sid)


def refuse_event(message):
    """Bad data is answered with `error` {"message"} and changes nothing."""
    notifier.to_socket(request.sid, "error", {"message": message})
    return {"ok": False, "message": message}


def transport_open(sid):
    """Whether the Engine.IO connection under this socket is still there."""
    return socketio.server.manager.eio_sid_from_sid(sid, "/") in socketio.server.environ


def refuse(message):
    """Refuse the connection (`connect_error` with `{"message"}`), then close the
    transport: an unauthenticated Engine.IO connection is not kept open."""
    close_transport_soon(request.sid)
    raise ConnectionRefusedError(message)


def close_transport_soon(sid):
    """Close the connection's transport after a grace period (the client reconnects)."""
    eio_sid = socketio.server.manager.eio_sid_from_sid(sid, "/")
    socketio.start_background_task(_close_transport, eio_sid)


def _close_transport(eio_sid):
    socketio.sleep(REFUSED_GRACE_SECONDS)  # a polling client needs a poll to read the error
    socketio.server.eio.disconnect(eio_sid)


def delta_mode():
    return current_app.config.get("PRESENCE_EVENTS") == "delta"


def _after_connect(app, role, account_id, sid, changed):
    if role != Role.USER:
        return
    with app.app_context():
        try:
            _announce_connect(account_id, sid, changed)
        except RedisError:
            app.logger.warning("could not announce a connection: Redis unavailable")


def _announce_connect(account_id, sid, changed):
    if delta_mode():
        notifier.announce_online_users(to=sid)
        if changed:
            notifier.to_role("user", "userOnline", {"userId": account_id}, skip_sid=sid)
    else:
        notifier.announce_online_users(to=None if changed else sid)


def start_background_tasks(app):
    """The revocation watcher, and the presence heartbeat with Redis: once per app."""
    if app.extensions.get("realtime_tasks"):
        return
    tasks = app.extensions["realtime_tasks"] = [
        socketio.start_background_task(revocation.watch_forever, app)]
    if app.extensions["presence"].heartbeat_seconds:
        tasks.append(socketio.start_background_task(
            presence.beat_forever, app, notifier.announce_online_users))


def enforce_connect_timeout(server, seconds):
    """Close an Engine.IO connection that has not joined the namespace within
    `seconds`, as Socket.IO's own server does (`connectTimeout`): a raw websocket that
    only answers pings would otherwise be kept forever. Chained to the Socket.IO
    server's own Engine.IO `connect` handler."""
    handle_connect = server.eio.handlers["connect"]

    def on_eio_connect(eio_sid, environ):
        result = handle_connect(eio_sid, environ)
        server.start_background_task(_close_unless_joined, server, eio_sid, seconds)
        return result

    server.eio.on("connect", on_eio_connect)


def _close_unless_joined(server, eio_sid, seconds):
    server.sleep(seconds)
    if eio_sid in server.environ and server.manager.sid_from_eio_sid(eio_sid, "/") is None:
        server.eio.disconnect(eio_sid)

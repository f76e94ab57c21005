"""The Socket.IO namespace `/`: authenticated connections, presence announcements and
the captain's live location.

Who connects is decided by realtime_service.sockets.identity (a token in the handshake
or the `token` cookie; never a client-stated id); the token check is
shared.accounts.tokens.authenticate, the same as every HTTP route's. Each authenticated
connection joins the room of its account and of its role; the socket's Flask session
holds `account_id`, `role`, `jti` and whether the cookie carried the token.
"""
import functools

from bson import ObjectId
from flask import current_app, request, session
from flask_socketio import ConnectionRefusedError, Namespace, join_room
from marshmallow import fields
from pymongo.errors import PyMongoError
from redis import RedisError

from realtime_service.extensions import socketio
from realtime_service.rides.locations import update_captain_location
from realtime_service.rides.schemas import PlaceSchema
from realtime_service.sockets import event_limits, notifier, presence, revocation
from realtime_service.sockets.identity import (
    anonymous_allowed,
    claimed_id_matches,
    handshake_credential,
    join_matches,
)
from shared.accounts import accounts
from shared.accounts.roles import Role
from shared.accounts.service import activate_from_socket, deactivate_if_socket_activated
from shared.accounts.tokens import TokenError, authenticate
from shared.errors import Invalid
from shared.schemas import Schema
from shared.validation import load

REFUSED_GRACE_SECONDS = 0.1
UNAVAILABLE = "Service unavailable, try again later"


class LocationUpdateSchema(Schema):
    location = fields.Nested(PlaceSchema(only=("lat", "lng")), required=True)


def limited(handler):
    """An event over the account's SOCKET_EVENT_RATE_LIMIT is refused and does nothing."""

    @functools.wraps(handler)
    def wrapper(self, *args):
        try:
            if event_limits.over_limit():
                return refuse_event(event_limits.TOO_MANY)
        except RedisError:
            return refuse_event(UNAVAILABLE)
        return handler(self, *args)

    return wrapper


class RealtimeNamespace(Namespace):
    def trigger_event(self, event, *args):
        """Events are named with dashes (`update-location-captain`); handlers with
        underscores."""
        return super().trigger_event(event.replace("-", "_"), *args)

    def on_connect(self, auth=None):
        if "account_id" in session:
            return False  # an event a client named "connect", not a connection
        token, source = handshake_credential(auth)
        if token is None and anonymous_allowed():
            session.update(account_id=None, role=None)
            return
        claims, account = self._authenticate(token)
        sid, role, account_id = request.sid, Role(claims["role"]), str(account["_id"])
        if not claimed_id_matches(account_id):
            current_app.logger.warning("socket refused: userId names another account")
            refuse("userId does not match the authenticated account")
        session.update(account_id=account_id, role=str(role), jti=claims["jti"],
                       via_cookie=source == "cookie")
        join_room(account_id)
        join_room(notifier.ROLE_ROOMS[role])
        try:
            changed = presence.connected(role, account_id, sid)
        except RedisError:
            refuse(UNAVAILABLE)
        revocation.watcher().track(sid, revocation.SocketSession(
            account_id, role, claims["jti"], claims.get("ver", 0), claims["exp"]))
        set_socket_id(role, account["_id"], sid)
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
        except PyMongoError:
            refuse(UNAVAILABLE)

    def on_disconnect(self, *_reason):
        if socketio.server.manager.is_connected(request.sid, "/"):
            return  # an event a client named "disconnect", not a disconnection
        forget(request.sid)

    @limited
    def on_join(self, data=None):
        """The tutorials' `join {userId, userType}`: a no-op when it names this
        connection's account (a captain goes on duty), else the transport is closed
        once so that the client reconnects with the cookie its login has just set."""
        account_id, role = session.get("account_id"), session.get("role")
        if not join_matches(data, account_id, role):
            if account_id is not None:
                current_app.logger.warning("socket join refused: it names another account")
            if not session.get("rejoined"):
                session["rejoined"] = True
                socketio.start_background_task(
                    _close_transport, socketio.server.manager.eio_sid_from_sid(request.sid, "/"))
            return {"ok": False, "message": "join does not match this connection's account"}
        if role == Role.CAPTAIN:
            activate_from_socket(ObjectId(account_id))
        return {"ok": True}

    @limited
    def on_update_location_captain(self, data=None):
        """Store the captain's position and forward it to the rider of their open
        ride. Acknowledged with {"ok": true} or {"ok": false, "message"}. Anonymous
        connections are ignored."""
        if session.get("account_id") is None:
            return {"ok": False, "message": "Authentication required"}
        if session.get("role") != Role.CAPTAIN:
            return refuse_event("Only captains can update their location")
        try:
            location = parse_location(data)
        except ValueError as error:
            return refuse_event(str(error))
        try:
            captain_id = ObjectId(session["account_id"])
            update_captain_location(captain_id, location)
            if session.get("via_cookie") and current_app.config.get("COMPAT_ROUTES"):
                activate_from_socket(captain_id)
        except PyMongoError:
            return refuse_event(UNAVAILABLE)
        return {"ok": True}


def forget(sid):
    """Undo what the connection recorded; tell the users when one went offline."""
    tracked = revocation.watcher().forget(sid)
    if tracked is None:
        return
    role, account_id = tracked.role, tracked.account_id
    try:
        changed = presence.disconnected(role, account_id, sid)
    except RedisError:  # the next heartbeat rewrites this process's entries
        current_app.logger.warning("presence update failed on disconnect")
        changed = True
    set_socket_id(role, ObjectId(account_id), None, only_if=sid)
    if changed and role == Role.CAPTAIN:
        deactivate_if_socket_activated(ObjectId(account_id))
    if changed and role == Role.USER:
        if delta_mode():
            notifier.to_role("user", "userOffline", {"userId": account_id})
        else:
            notifier.announce_online_users()


def parse_location(data):
    """{"lat", "lng"} from the payload; ValueError with a readable message otherwise."""
    if not isinstance(data, dict):
        raise ValueError("Expected {\"location\": {\"lat\", \"lng\"}}")
    try:
        return load(LocationUpdateSchema(), data)["location"]
    except Invalid as error:
        raise ValueError("; ".join(f"{e['param']}: {e['msg']}" for e in error.errors)) from None


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
    eio_sid = socketio.server.manager.eio_sid_from_sid(request.sid, "/")
    socketio.start_background_task(_close_transport, eio_sid)
    raise ConnectionRefusedError(message)


def _close_transport(eio_sid):
    socketio.sleep(REFUSED_GRACE_SECONDS)  # a polling client needs a poll to read the error
    socketio.server.eio.disconnect(eio_sid)


def set_socket_id(role, account_id, value, only_if=None):
    """The compatible `socketId` field: the last connection's id, null once it closes."""
    try:
        accounts.set_socket_id(role, account_id, value, only_if)
    except PyMongoError:
        current_app.logger.warning("could not update socketId")


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
    only answers pings would otherwise be kept forever."""
    handle_connect = server._handle_eio_connect

    def on_eio_connect(eio_sid, environ):
        result = handle_connect(eio_sid, environ)
        server.start_background_task(_close_unless_joined, server, eio_sid, seconds)
        return result

    server.eio.on("connect", on_eio_connect)


def _close_unless_joined(server, eio_sid, seconds):
    server.sleep(seconds)
    if eio_sid in server.environ and server.manager.sid_from_eio_sid(eio_sid, "/") is None:
        server.eio.disconnect(eio_sid)

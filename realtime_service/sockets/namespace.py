"""The Socket.IO namespace `/`: authenticated connections, presence announcements, the
captain's live location and the calls' events (start, join, leave, end, signal, chat).

A client that dropped reconnects into its old socket (same id, rooms, missed packets:
realtime_service.sockets.recovery); connect authenticates it all the same.

Who connects is decided by realtime_service.sockets.identity (a token in the handshake
or the `token` cookie; never a client-stated id); the token check is
shared.accounts.tokens.authenticate, the same as every HTTP route's. Each authenticated
connection joins the room of its account and of its role; the socket's Flask session
holds `account_id`, `role`, `jti` and whether the cookie carried the token. Handlers
parse, call a service and acknowledge; `socket_error` maps every error of every event,
as the HTTP error handlers do. What a layer above adds hangs on the app's socket hooks.
"""
import time

from bson import ObjectId
from flask import current_app, request, session
from flask_socketio import ConnectionRefusedError, Namespace, join_room, leave_room
from pymongo.errors import PyMongoError
from redis import RedisError

from realtime_service.calls.events import CallEvents, leave_calls, leave_calls_unless_back
from realtime_service.chat.events import ChatEvents
from realtime_service.extensions import socketio
from realtime_service.rides import locations
from realtime_service.rides.events import RideEvents
from realtime_service.sockets import admission, lean, notifier, presence, recovery, revocation
from realtime_service.sockets.events import limited, refuse
from realtime_service.sockets.hooks import hooks
from realtime_service.sockets.identity import handshake_credential
from realtime_service.sockets.transport import call_later
from shared.accounts.roles import Role
from shared.accounts.tokens import TokenError, authenticate
from shared.errors import Forbidden

# Connections that died without a close (or were taken over by their client's new
# one): their calls wait for them. A closed transport may be a tab closed on purpose.
SILENT_ENDS = ("ping timeout", "transport error", "server disconnect")
LOCATION_EVENT = "update-location-captain"


class RealtimeNamespace(ChatEvents, RideEvents, CallEvents, Namespace):
    def __init__(self, namespace, app):
        super().__init__(namespace)
        self.app = app

    def trigger_event(self, event, *args):
        """Events are named with dashes (`update-location-captain`); handlers with
        underscores. A connected captain's location update goes the lean way
        (realtime_service.sockets.lean)."""
        if event == LOCATION_EVENT and args and args[0] in lean.reporters(self.app):
            return lean.serve(self.app, args[0], captain_location, *args[1:])
        return super().trigger_event(event.replace("-", "_"), *args)

    def on_connect(self, auth=None):
        if "account_id" in session:
            return False  # an event a client named "connect", not a connection
        token, source = handshake_credential(auth)
        anonymous = hooks().anonymous
        if token is None and anonymous is not None and anonymous():
            session.update(account_id=None, role=None)
            admission.expire_anonymous(
                socketio.server, socketio.server.manager.eio_sid_from_sid(request.sid, "/"),
                current_app.config["ANONYMOUS_SOCKET_SECONDS"])
            return
        claims, account = self._authenticate(token)
        sid, role, account_id = request.sid, Role(claims["role"]), str(account["_id"])
        resumed = recovery.resumed(sid)
        if resumed is not None and resumed.account_id != account_id:
            recovery.abandon(sid)
            leave_calls(sid)  # the calls its id was in are not this account's
            resumed = None
        for check in hooks().connect_checks:
            refusal = check(account_id)
            if refusal:
                current_app.logger.warning("socket refused: %s", refusal)
                refuse(refusal)
        if admission.account_full(current_app.config, presence.local_count(role, account_id)):
            current_app.logger.warning("socket refused: too many connections for its account")
            refuse(admission.TOO_MANY_FOR_ACCOUNT)
        style = notifier.presence_style(auth)
        if style is None:
            refuse(notifier.UNKNOWN_PRESENCE)
        session.update(account_id=account_id, role=str(role), jti=claims["jti"])
        if resumed is not None:
            session["in_calls"] = True  # it may still be in the calls it was in
        join_room(account_id)
        join_room(notifier.ROLE_ROOMS[role])
        if role == Role.USER:
            join_presence_room(style)
        changed = presence.connected(role, account_id, sid)
        if notifier.offline_grace().back(account_id):
            changed = False  # its going offline was never announced
        if role == Role.CAPTAIN:
            session["vehicle_type"] = locations.captain_connected(account)
            lean.captain_connected(sid, account["_id"], session["vehicle_type"],
                                   source == "cookie")
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

    def on_disconnect(self, reason=None):
        if socketio.server.manager.is_connected(request.sid, "/"):
            return  # an event a client named "disconnect", not a disconnection
        may_return = session.get("account_id") is not None and recovery.persist(
            request.sid, session["account_id"], reason)
        forget(request.sid, may_return, keep_calls=may_return and reason in SILENT_ENDS)

    @limited
    def on_update_location_captain(self, data=None):
        """A location update of a connection that is not a captain's (a captain's goes
        to `captain_location`): refused; anonymous connections are ignored."""
        if session.get("account_id") is None:
            return {"ok": False, "message": "Authentication required"}
        raise Forbidden("Only captains can update their location")


def captain_location(reporter, data=None):
    """Index the captain's position and forward it to the rider of their open ride,
    with no database round trip (realtime_service.rides.locations). Acknowledged with
    {"ok": true} or {"ok": false, "message"}: bad coordinates and updates over the
    captain's rate are refused."""
    now = time.time()
    location = locations.read_location(data)
    locations.update_captain_location(reporter.captain_id, reporter.vehicle_type, location,
                                      now)
    for hook in hooks().located:
        hook(reporter.captain_id, reporter.via_cookie and not reporter.located)
    reporter.located = True
    return {"ok": True}


def forget(sid, may_return=False, keep_calls=False):
    """Undo what the connection recorded (a guest's too: its calls); tell the users
    when one went offline (a user whose socket may be recovered stays online, held,
    and goes offline only if not back within PRESENCE_GRACE_SECONDS). A connection
    that died silently keeps its calls for that long too."""
    if session.get("in_calls"):
        if keep_calls:
            call_later(socketio.server, current_app.config["PRESENCE_GRACE_SECONDS"],
                       leave_calls_unless_back, current_app._get_current_object(), sid)
        else:
            leave_calls(sid)
    lean.forget(sid)
    tracked = revocation.watcher().forget(sid)
    if tracked is None:
        return
    role, account_id = tracked.role, tracked.account_id
    hold = may_return and role == Role.USER
    try:
        changed = presence.disconnected(role, account_id, sid, hold)
    except RedisError:  # the next heartbeat rewrites this process's entries
        current_app.logger.warning("presence update failed on disconnect")
        changed = True
    if changed and role == Role.CAPTAIN:
        locations.captain_disconnected(account_id, session.get("vehicle_type"))
    for hook in hooks().disconnected:
        try:
            hook(role, ObjectId(account_id), sid, changed)
        except PyMongoError:
            current_app.logger.warning("a disconnect hook failed: database unavailable")
    if changed and role == Role.USER:
        announce_offline(account_id)
    elif hold and presence.held(role, account_id):
        notifier.offline_grace().later(account_id, end_hold)


def end_hold(account_id):
    """The grace of a dropped user is over and it is not back: offline, if no other
    process has it."""
    if presence.released(Role.USER, account_id):
        announce_offline(account_id)


def announce_offline(account_id):
    if delta_mode():
        notifier.deltas().offline(account_id)
    else:
        notifier.announce_online_users()


def join_presence_room(style):
    """The room of the presence events the connection asked for (a recovered one may
    have asked otherwise before)."""
    for other, room in notifier.PRESENCE_ROOMS.items():
        if other != style:
            leave_room(room)
    join_room(notifier.PRESENCE_ROOMS[style])


def transport_open(sid):
    """Whether the Engine.IO connection under this socket is still there."""
    return socketio.server.manager.eio_sid_from_sid(sid, "/") in socketio.server.environ


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
        notifier.deltas().connected(sid, account_id if changed else None)
    else:
        notifier.announce_online_users(to=None if changed else sid)


def start_background_tasks(app):
    """The revocation watcher, the live locations' upkeep, and the presence heartbeat
    with Redis: once per app."""
    if app.extensions.get("realtime_tasks"):
        return
    tasks = app.extensions["realtime_tasks"] = [
        socketio.start_background_task(revocation.watch_forever, app),
        socketio.start_background_task(locations.upkeep_forever, app)]
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
        call_later(server, seconds, _close_unless_joined, server, eio_sid)
        return result

    server.eio.on("connect", on_eio_connect)


def _close_unless_joined(server, eio_sid):
    if eio_sid in server.environ and server.manager.sid_from_eio_sid(eio_sid, "/") is None:
        server.eio.disconnect(eio_sid)

"""Socket.IO connection rules: authentication, rooms, presence events.

A client connects with its access token in `auth.token`, the `token` query
parameter or an `Authorization: Bearer` header. Each connection joins the room of
its account (`str(account_id)`) and of its role; the socket's Flask session holds
`account_id`, `role` and `jti` for the event handlers:

    @socketio.on("update-location-captain")
    def update_location(data):
        account_id, role = session["account_id"], session["role"]
"""
from bson import ObjectId
from flask import current_app, request, session
from flask_socketio import ConnectionRefusedError, join_room
from pymongo.errors import PyMongoError
from redis import RedisError

from realtime_service import presence, revocation
from realtime_service.app import socketio
from shared.models import accounts
from shared.tokens import TokenError, authenticate

REFUSED_GRACE_SECONDS = 0.1


def handshake_token(auth):
    """The raw token from `auth.token`, the `token` query parameter or the
    Authorization header, in that order."""
    if isinstance(auth, dict) and auth.get("token"):
        return str(auth["token"])
    if request.args.get("token"):
        return request.args["token"]
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


@socketio.on("connect")
def on_connect(auth=None):
    try:
        claims, account = authenticate(handshake_token(auth))
    except TokenError as error:
        refuse(error.message)
    except PyMongoError:
        refuse("Service unavailable, try again later")
    sid, role, account_id = request.sid, claims["role"], str(account["_id"])
    session.update(account_id=account_id, role=role, jti=claims["jti"])
    join_room(account_id)
    join_room(presence.ROLE_ROOMS[role])
    try:
        changed = presence.connected(role, account_id, sid)
    except RedisError:
        refuse("Service unavailable, try again later")
    revocation.watcher().track(sid, revocation.SocketSession(
        account_id, role, claims["jti"], claims.get("ver", 0), claims["exp"]))
    set_socket_id(role, account["_id"], sid)
    if not transport_open(sid):
        # The client left while we were recording it; python-socketio skips the
        # disconnect handler of a connection still in its connect handler, so undo here.
        on_disconnect()
        set_socket_id(role, account["_id"], None, only_if=sid)
        raise ConnectionRefusedError("Connection closed during the handshake")
    app = current_app._get_current_object()
    start_background_tasks(app)
    # After the handler returns, so that the client is fully connected when it is told.
    socketio.start_background_task(_after_connect, app, role, account_id, sid, changed)


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


@socketio.on("disconnect")
def on_disconnect(*_reason):
    sid = request.sid
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
    if changed and role == "user":
        if delta_mode():
            socketio.emit("userOffline", {"userId": account_id}, to=presence.ROLE_ROOMS["user"])
        else:
            announce_online_users()


def set_socket_id(role, account_id, value, only_if=None):
    """The compatible `socketId` field: the last connection's id, null once it closes."""
    query = {"_id": account_id} if only_if is None else {"_id": account_id, "socketId": only_if}
    try:
        accounts.collection(role).update_one(query, {"$set": {"socketId": value}})
    except PyMongoError:
        current_app.logger.warning("could not update socketId")


def delta_mode():
    return current_app.config.get("PRESENCE_EVENTS") == "delta"


def announce_online_users(to=None):
    """`getOnlineUsers`: the online user ids, to every user (or to one socket)."""
    socketio.emit("getOnlineUsers", sorted(presence.online_ids("user")),
                  to=to or presence.ROLE_ROOMS["user"])


def _after_connect(app, role, account_id, sid, changed):
    if role != "user":
        return
    with app.app_context():
        try:
            _announce_connect(account_id, sid, changed)
        except RedisError:
            app.logger.warning("could not announce a connection: Redis unavailable")


def _announce_connect(account_id, sid, changed):
    if delta_mode():
        announce_online_users(to=sid)
        if changed:
            socketio.emit("userOnline", {"userId": account_id}, to=presence.ROLE_ROOMS["user"],
                          skip_sid=sid)
    else:
        announce_online_users(to=None if changed else sid)


def start_background_tasks(app):
    """The revocation watcher, and the presence heartbeat with Redis: once per app."""
    if app.extensions.get("realtime_tasks"):
        return
    tasks = app.extensions["realtime_tasks"] = [
        socketio.start_background_task(revocation.watch_forever, app)]
    if app.extensions["presence"].heartbeat_seconds:
        tasks.append(socketio.start_background_task(presence.beat_forever, app))

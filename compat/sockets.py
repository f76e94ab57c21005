"""The tutorial frontends' socket rules, on the realtime namespace's hooks.

- A page of the gateway's own origin may connect before it has a token (the frontends
  open their socket before login): accepted as *anonymous*, with no rooms, no
  presence, its events ignored (but the video meetings' events, as a guest:
  compat.meetings.sockets); its first `join` closes the transport so that the client
  reconnects with the cookie its login has set since.
- QuickChat's `?userId=` is honoured only when it names the authenticated account.
- The Uber clone's `join {userId, userType}` is a no-op that names this very
  connection's account; a captain whose frontend has no on-duty switch goes on duty by
  joining or sending a location over the cookie, and off duty with its last socket.
- Each account's `socketId` is its last connection's id, null once it closes.
"""
from bson import ObjectId
from flask import current_app, request, session
from pymongo.errors import PyMongoError

from realtime_service.extensions import socketio
from realtime_service.sockets.events import close_transport_soon, limited
from realtime_service.sockets.hooks import SocketHooks
from shared.accounts import accounts
from shared.accounts.roles import Role
from shared.cors import own_origins

MISMATCH = "join does not match this connection's account"


def init_sockets(app):
    """Plug the rules above into the app's socket hooks and events."""
    hooks: SocketHooks = app.extensions["socket_hooks"]
    hooks.anonymous = anonymous_allowed
    hooks.connect_checks.append(claimed_id_refusal)
    hooks.connected.append(record_socket_id)
    hooks.disconnected.append(forget_socket_id)
    hooks.located.append(activate_over_cookie)
    socketio.on_event("join", limited(on_join), namespace="/")


def anonymous_allowed():
    """A page served by the gateway (a proxied request from the gateway's own configured
    origin, never the one its Host or X-Forwarded-Host names). Direct API clients
    without a credential stay refused; an anonymous socket is told nothing."""
    # Browsers send no Origin on a same-origin GET (the polling handshake), but
    # Fetch Metadata says where the request comes from.
    same_origin = (request.headers.get("Sec-Fetch-Site") == "same-origin"
                   or request.headers.get("Origin") in own_origins(current_app))
    return bool(same_origin and request.headers.get("X-Forwarded-For"))


def claimed_id_refusal(account_id):
    """QuickChat's `?userId=`: a refusal when it names another account."""
    claimed = request.args.get("userId")
    if claimed is not None and claimed != account_id:
        return "userId does not match the authenticated account"
    return None


def join_matches(data, account_id, role):
    """The `join {userId, userType}` names this very connection's account."""
    return (isinstance(data, dict) and account_id is not None
            and data.get("userId") == account_id and data.get("userType") == role)


def on_join(data=None):
    """A no-op when `join` names this connection's account (a captain goes on duty),
    else the transport is closed once so that the client reconnects with the cookie
    its login has just set."""
    account_id, role = session.get("account_id"), session.get("role")
    if not join_matches(data, account_id, role):
        if account_id is not None:
            current_app.logger.warning("socket join refused: it names another account")
        if not session.get("rejoined"):
            session["rejoined"] = True
            close_transport_soon(request.sid)
        return {"ok": False, "message": MISMATCH}
    if role == Role.CAPTAIN:
        activate_from_socket(ObjectId(account_id))
    return {"ok": True}


def record_socket_id(role, account_id, sid):
    set_socket_id(role, account_id, sid)


def forget_socket_id(role, account_id, sid, last):
    set_socket_id(role, account_id, None, only_if=sid)
    if last and role == Role.CAPTAIN:
        deactivate_if_socket_activated(account_id)


def set_socket_id(role, account_id, value, only_if=None):
    try:
        accounts.set_socket_id(role, account_id, value, only_if)
    except PyMongoError:
        current_app.logger.warning("could not update socketId")


def activate_over_cookie(captain_id, first_over_cookie):
    """A location sent by a cookie-authenticated captain puts it on duty: its first one
    on each connection, so that the next ones cost no database write."""
    if first_over_cookie:
        activate_from_socket(captain_id)


def activate_from_socket(captain_id):
    """On duty, marked so that its last disconnection takes it off duty again."""
    accounts.update_where(Role.CAPTAIN, {"_id": captain_id, "status": "inactive"},
                          {"status": "active", "activatedBy": "socket"})


def deactivate_if_socket_activated(captain_id):
    accounts.update_where(Role.CAPTAIN, {"_id": captain_id, "activatedBy": "socket"},
                          {"status": "inactive"}, unset=("activatedBy",))

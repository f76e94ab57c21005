"""Every push of the realtime service goes through here, from socket handlers, HTTP
routes and background tasks alike, and reaches the right connections in any process
(through the Redis message queue when REDIS_URL is set).

Every connection of an account joins the room `str(account_id)` and its role's room,
so `push(account_id, "ride-confirmed", ride)` reaches every tab and device. Payloads
are dumped by the caller with the schema of the event (an allow-list).
"""
from realtime_service import presence
from realtime_service.extensions import socketio

ROLE_ROOMS = {"user": "role:user", "captain": "role:captain"}


def push(account_id, event, payload, skip_sid=None):
    """`event` to every connection of the account (but `skip_sid`, if given)."""
    socketio.emit(event, payload, to=str(account_id), skip_sid=skip_sid)


def push_many(account_ids, event, payload):
    """One `event` to every connection of all these accounts: the payload is encoded
    once, and crosses the message queue once."""
    rooms = [str(account_id) for account_id in account_ids]
    if rooms:
        socketio.emit(event, payload, to=rooms)


def to_socket(sid, event, payload):
    socketio.emit(event, payload, to=sid)


def to_role(role, event, payload, skip_sid=None):
    socketio.emit(event, payload, to=ROLE_ROOMS[role], skip_sid=skip_sid)


def announce_online_users(to=None):
    """`getOnlineUsers`: the online user ids, to every user (or to one socket)."""
    online = sorted(presence.online_ids("user"))
    if to is None:
        to_role("user", "getOnlineUsers", online)
    else:
        to_socket(to, "getOnlineUsers", online)

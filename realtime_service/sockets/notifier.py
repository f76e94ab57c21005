"""Every push of the realtime service goes through here, from socket handlers, HTTP
routes and background tasks alike, and reaches the right connections in any process
(through the Redis message queue when REDIS_URL is set).

Every connection of an account joins the room `str(account_id)` and its role's room,
so `push(account_id, "ride-confirmed", ride)` reaches every tab and device. Payloads
are dumped by the caller with the schema of the event (an allow-list).
"""
import time

from flask import current_app

from realtime_service.extensions import socketio
from realtime_service.sockets import presence

ROLE_ROOMS = {"user": "role:user", "captain": "role:captain"}


def push(account_id, event, payload, skip_sid=None):
    """`event` to every connection of the account (but `skip_sid`, if given)."""
    socketio.emit(event, payload, to=str(account_id), skip_sid=skip_sid)


def push_many(account_ids, event, payload, sids=()):
    """One `event` to every connection of all these accounts and to the sockets `sids`:
    the payload is encoded once, crosses the message queue once and reaches each
    connection once."""
    rooms = [str(account_id) for account_id in account_ids] + list(sids)
    if rooms:
        socketio.emit(event, payload, to=rooms)


def to_socket(sid, event, payload):
    socketio.emit(event, payload, to=sid)


def to_local_socket(sid, event, payload):
    """`event` straight to a socket of this process, before it is disconnected: not
    through the message queue (which would deliver it after the disconnect), and not
    kept for recovery (the socket is not coming back)."""
    socketio.emit(event, payload, to=sid, ignore_queue=True)


def to_sockets(sids, event, payload):
    """One `event` to each of the sockets `sids` (members of a call, in any process)."""
    push_many((), event, payload, sids=sids)


def to_role(role, event, payload, skip_sid=None):
    socketio.emit(event, payload, to=ROLE_ROOMS[role], skip_sid=skip_sid)


def announce_online_users(to=None):
    """`getOnlineUsers`: the online user ids, to one socket at once, or to every user
    at most once per PRESENCE_ANNOUNCE_SECONDS (see `Announcer`)."""
    if to is None:
        current_app.extensions["announcer"].request()
    else:
        to_socket(to, "getOnlineUsers", sorted(presence.online_ids("user")))


def _broadcast_online_users():
    to_role("user", "getOnlineUsers", sorted(presence.online_ids("user")))


class Announcer:
    """Coalesces the full `getOnlineUsers` broadcasts: the first change after a quiet
    window is announced at once, later ones in the window by one broadcast at its end,
    with the list as it is then. A burst of n connects costs a few broadcasts of the
    list instead of n (each one a frame to every user)."""

    def __init__(self, app, window):
        self.app, self.window = app, window
        self.last, self.pending = float("-inf"), False

    def request(self):
        if self.pending:
            return
        wait = self.last + self.window - time.monotonic()
        if wait <= 0:
            self._announce()
        else:
            self.pending = True
            socketio.start_background_task(self._announce_later, wait)

    def _announce_later(self, wait):
        socketio.sleep(wait)
        self.pending = False  # a change from here on is announced again
        with self.app.app_context():
            try:
                self._announce()
            except Exception:  # a later change announces again
                self.app.logger.exception("could not announce the online users")

    def _announce(self):
        self.last = time.monotonic()
        _broadcast_online_users()


def init_app(app):
    app.extensions["announcer"] = Announcer(app, app.config["PRESENCE_ANNOUNCE_SECONDS"])

"""Every push of the realtime service goes through here, from socket handlers, HTTP
routes and background tasks alike, and reaches the right connections in any process
(through the Redis message queue when REDIS_URL is set).

Every connection of an account joins the room `str(account_id)` and its role's room
(a user's also the room of the presence events it asked for, PRESENCE_ROOMS), so
`push(account_id, "ride-confirmed", ride)` reaches every tab and device. Payloads are
dumped by the caller with the schema of the event (an allow-list).
"""
import time

from flask import current_app

from realtime_service.extensions import socketio
from realtime_service.sockets import presence
from realtime_service.sockets.transport import call_later

ROLE_ROOMS = {"user": "role:user", "captain": "role:captain"}
# What a user's connection asked for in its handshake (`auth.presence`), with
# PRESENCE_EVENTS=delta: one event per account changed (the default), or one `presence`
# event per window. Each user connection joins the room of its choice.
PRESENCE_ROOMS = {"each": "presence:each", "batch": "presence:batch"}
UNKNOWN_PRESENCE = 'Unknown presence option: use "batch" or "each"'


def push(account_id, event, payload, skip_sid=None):
    """`event` to every connection of the account (but `skip_sid`, if given)."""
    socketio.emit(event, payload, to=str(account_id), skip_sid=skip_sid)


def push_many(account_ids, event, payload, sids=(), skip_sid=None):
    """One `event` to every connection of all these accounts and to the sockets `sids`
    (but `skip_sid`, if given): the payload is encoded once, crosses the message queue
    once and reaches each connection once."""
    rooms = [str(account_id) for account_id in account_ids] + list(sids)
    if rooms:
        socketio.emit(event, payload, to=rooms, skip_sid=skip_sid)


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


def to_room_each(room, events, skip_sids=()):
    """Several `(event, payload)`, in order, to every connection in the room (but
    `skip_sids`): each event encoded once, and, in one process, written to each
    websocket with one write (the manager's `emit_many`)."""
    socketio.server.manager.emit_many(events, "/", room, list(skip_sids))


def presence_style(auth):
    """The handshake's `auth.presence`: "each" (also when absent) or "batch"; None for
    anything else (the connection is refused)."""
    style = auth.get("presence") if isinstance(auth, dict) else None
    if style is None:
        return "each"
    return style if isinstance(style, str) and style in PRESENCE_ROOMS else None


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


class OfflineGrace:
    """An account whose last socket dropped and may be recovered (held online by
    presence meanwhile): `expire` (which releases it and announces it offline) runs
    PRESENCE_GRACE_SECONDS later unless it is back, so that a network blip (or a
    thousand clients recovering at once) tells nobody anything."""

    def __init__(self, app, seconds):
        self.app, self.seconds = app, seconds
        self.pending = {}  # account id -> the wait that will announce it

    def later(self, account_id, expire):
        if self.seconds <= 0:
            return expire(account_id)
        wait = self.pending[account_id] = object()
        # A timer until it is due, not a sleeping task: a storm drops thousands at once.
        call_later(socketio.server, self.seconds, self._expire, account_id, wait, expire)

    def back(self, account_id):
        """Whether the account came back while its going offline was still unsaid."""
        return self.pending.pop(account_id, None) is not None

    def _expire(self, account_id, wait, expire):
        if self.pending.get(account_id) is not wait:
            return
        del self.pending[account_id]
        with self.app.app_context():
            try:
                expire(account_id)
            except Exception:  # the next change announces the list again
                self.app.logger.exception("could not announce an account offline")


class DeltaAnnouncer(Announcer):
    """PRESENCE_EVENTS=delta: `userOnline` and `userOffline` coalesced per window as
    `Announcer` does (an account online then offline within one window nets to
    nothing), sent together at its end, in the order of the changes; to the connections
    that asked for a batch, the same changes as one `presence` event. A socket that
    connected in the window gets `getOnlineUsers` (the list as it is then) at the same
    flush instead of the changes: each socket sees one list, then every later change."""

    def __init__(self, app, window):
        super().__init__(app, window)
        self.changes = {}  # account id -> its pending event, in the order of the changes
        self.joined = []  # the sockets waiting for their list

    def connected(self, sid, account_id=None):
        """A socket connected; `account_id` when that brought its account online."""
        self.joined.append(sid)
        if account_id is not None:
            self._record(account_id, "userOnline")
        self.request()

    def offline(self, account_id):
        self._record(account_id, "userOffline")
        self.request()

    def _record(self, account_id, event):
        pending = self.changes.pop(account_id, None)
        if pending in (None, event):  # the opposite of a pending change cancels it
            self.changes[account_id] = event

    def _announce(self):
        self.last = time.monotonic()
        changes, joined = self.changes, self.joined
        self.changes, self.joined = {}, []
        try:
            self._send(changes, joined)
        except Exception:  # kept for the next flush, before what came since
            since = self.changes
            self.changes, self.joined = {}, joined + self.joined
            for account_id, event in [*changes.items(), *since.items()]:
                self._record(account_id, event)
            raise

    @staticmethod
    def _send(changes, joined):
        if joined:
            push_many((), "getOnlineUsers", sorted(presence.online_ids("user")), sids=joined)
        if changes:
            to_room_each(PRESENCE_ROOMS["each"], [(event, {"userId": account_id})
                                                  for account_id, event in changes.items()],
                         joined)
            socketio.emit("presence", batch(changes), to=PRESENCE_ROOMS["batch"],
                          skip_sid=list(joined))


def batch(changes):
    """A window's netted changes as one `presence` payload, each list in their order."""
    return {"online": [account_id for account_id, event in changes.items()
                       if event == "userOnline"],
            "offline": [account_id for account_id, event in changes.items()
                        if event == "userOffline"]}


def deltas():
    return current_app.extensions["presence_deltas"]


def offline_grace():
    return current_app.extensions["offline_grace"]


def init_app(app):
    app.extensions["announcer"] = Announcer(app, app.config["PRESENCE_ANNOUNCE_SECONDS"])
    app.extensions["presence_deltas"] = DeltaAnnouncer(app,
                                                       app.config["PRESENCE_ANNOUNCE_SECONDS"])
    app.extensions["offline_grace"] = OfflineGrace(app, app.config["PRESENCE_GRACE_SECONDS"])

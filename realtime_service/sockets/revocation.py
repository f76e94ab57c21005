"""Disconnecting revoked sessions.

Each process remembers, per socket, the account, role, `jti` and `ver` of the token
it connected with. A background task reads the process's revocation feed (the one the
token check reads, shared.accounts.revocations) every REVOCATION_POLL_SECONDS and
sends `session-revoked` to, then disconnects, every local socket whose token was
revoked (logout; a revoked session family has every access token issued in it
revoked, so a socket of any of them ends), whose account bumped its tokenVersion (logout
everywhere, password change), or whose token expired while it was connected
(`{"message": "...expired..."}`). Reading the database works whether the auth service
runs in this process, in another one, or on another host, with or without Redis.

A poll looks only at the sockets of what the feed changed since the previous one (by
`jti` and by account) and at the tokens whose expiry came (buckets by the second), so
with nothing revoked or expiring it costs the same for ten sockets or ten thousand.
"""
import heapq
import time
from dataclasses import dataclass

from flask import current_app
from pymongo.errors import PyMongoError

from realtime_service.extensions import socketio
from realtime_service.sockets import notifier, recovery

REVOKED = {"message": "Your session has been revoked, please log in again"}
EXPIRED = {"message": "Your session has expired, please log in again"}


@dataclass(frozen=True)
class SocketSession:
    account_id: str
    role: str
    jti: str
    ver: int
    exp: float  # the token's expiry, seconds since the epoch


class ExpiryBuckets:
    """Socket ids by their token's expiry: a bucket per whole second, the seconds in a
    heap, so taking what expired looks at the due buckets only."""

    def __init__(self):
        self.buckets = {}  # whole second -> {socket id: expiry}
        self.seconds = []  # heap of the buckets' seconds (each at most once)

    def __len__(self):
        return sum(len(bucket) for bucket in self.buckets.values())

    def add(self, sid, exp):
        second = int(exp)
        if second not in self.buckets:
            self.buckets[second] = {}
            heapq.heappush(self.seconds, second)
        self.buckets[second][sid] = exp

    def discard(self, sid, exp):
        bucket = self.buckets.get(int(exp))
        if bucket is not None:
            bucket.pop(sid, None)

    def take_due(self, now):
        """The socket ids whose expiry is at or before `now`, no longer kept."""
        due = []
        while self.seconds and self.seconds[0] <= now:
            second = self.seconds[0]
            bucket = self.buckets[second]
            for sid, exp in list(bucket.items()):
                if exp <= now:
                    due.append(sid)
                    del bucket[sid]
            if bucket:
                break  # the current second's tokens not yet expired
            heapq.heappop(self.seconds)
            del self.buckets[second]
        return due


class RevocationWatcher:
    def __init__(self, feed):
        self.feed = feed
        self.sessions = {}  # socket id -> SocketSession
        self.by_jti = {}  # jti -> {socket id}
        self.by_account = {}  # account id -> {socket id}
        self.expiries = ExpiryBuckets()
        self.ending = {}  # socket id -> message: ended, until its disconnect forgets it
        feed.watch_versions()

    def track(self, sid, session):
        """Watch socket `sid` (again, when a recovered socket connects anew) with the
        token of `session`; one already revoked or expired ends at the next poll."""
        self.forget(sid)
        self.sessions[sid] = session
        self.by_jti.setdefault(session.jti, set()).add(sid)
        self.by_account.setdefault(session.account_id, set()).add(sid)
        self.expiries.add(sid, session.exp)
        self._judge(sid, session, time.time())

    def forget(self, sid):
        """Stop watching `sid`; its session, or None when it was not watched."""
        session = self.sessions.pop(sid, None)
        if session is None:
            return None
        _discard(self.by_jti, session.jti, sid)
        _discard(self.by_account, session.account_id, sid)
        self.expiries.discard(sid, session.exp)
        self.ending.pop(sid, None)
        return session

    def ended(self):
        """`(socket id, message)` of the local sockets whose token is revoked or has
        expired, from the feed read again first."""
        self.feed.refresh()
        now = time.time()
        jtis, account_ids = self.feed.take_changes()
        for sid in _members(self.by_jti, jtis) | _members(self.by_account, account_ids):
            self._judge(sid, self.sessions[sid], now)
        for sid in self.expiries.take_due(now):
            self._judge(sid, self.sessions[sid], now)
        return list(self.ending.items())

    def _judge(self, sid, session, now):
        if sid in self.ending:
            return
        if self.feed.ends_socket(session.jti, session.account_id, session.ver):
            self.ending[sid] = REVOKED
        elif session.exp <= now:
            self.ending[sid] = EXPIRED


def _members(index, keys):
    """The socket ids indexed under any of `keys`."""
    found = set()
    for key in keys:
        found |= index.get(key, set())
    return found


def _discard(index, key, sid):
    """Take `sid` out of `index[key]`, and the key out when no socket is left under it."""
    sids = index.get(key)
    if sids is not None:
        sids.discard(sid)
        if not sids:
            del index[key]


def init_app(app):
    app.extensions["revocation"] = RevocationWatcher(app.extensions["revocations"])


def watcher():
    return current_app.extensions["revocation"]


def end_session(sid, message):
    recovery.end(sid)
    notifier.to_local_socket(sid, "session-revoked", message)
    socketio.server.disconnect(sid, namespace="/")


def watch_forever(app):
    """Background task: disconnect revoked and expired sockets within about one poll
    interval."""
    state = app.extensions["revocation"]
    while True:
        socketio.sleep(state.feed.poll_seconds)
        try:
            with app.app_context():
                for sid, message in state.ended():
                    end_session(sid, message)
        except PyMongoError as error:
            app.logger.warning("revocation poll failed: %s", type(error).__name__)
        except Exception:  # keep watching whatever happens
            app.logger.exception("revocation poll failed")

"""Disconnecting revoked sessions.

Each process remembers, per socket, the account, role, `jti` and `ver` of the token
it connected with. A background task polls the database every REVOCATION_POLL_SECONDS
for tokens revoked (logout; a revoked session family has every access token issued
in it revoked, so a socket of any of them ends) and accounts that bumped their
tokenVersion (logout everywhere, password change) since its last poll, and sends
`session-revoked` to, then disconnects, every local socket whose token that revoked,
or whose token expired while it was connected (`{"message": "...expired..."}`).
Polling the database works whether the auth service runs in this process, in another
one, or on another host, with or without Redis.
"""
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from pymongo.errors import PyMongoError

from realtime_service.extensions import socketio
from realtime_service.sockets import notifier
from shared.accounts import revocations
from shared.serialize import now

# Revocations stamped this long before the previous poll are looked at again: covers
# clock skew between processes and a write that lands while a poll runs.
OVERLAP = timedelta(seconds=5)
REVOKED = {"message": "Your session has been revoked, please log in again"}
EXPIRED = {"message": "Your session has expired, please log in again"}


@dataclass(frozen=True)
class SocketSession:
    account_id: str
    role: str
    jti: str
    ver: int
    exp: float  # the token's expiry, seconds since the epoch


class RevocationWatcher:
    def __init__(self, poll_seconds):
        self.poll_seconds = poll_seconds
        self.sessions = {}  # socket id -> SocketSession
        self.since = now()

    def track(self, sid, session):
        self.sessions[sid] = session

    def forget(self, sid):
        return self.sessions.pop(sid, None)

    def ended(self):
        """`(socket id, message)` of the local sockets whose token was revoked since the
        previous call, or has expired."""
        started, cutoff = now(), self.since - OVERLAP
        jtis = revocations.revoked_jtis_since(cutoff)
        versions = revocations.token_versions_since(cutoff)
        self.since = started
        ended = []
        for sid, session in list(self.sessions.items()):
            if session.jti in jtis or session.ver < versions.get(session.account_id, 0):
                ended.append((sid, REVOKED))
            elif session.exp <= started.timestamp():
                ended.append((sid, EXPIRED))
        return ended


def init_app(app):
    app.extensions["revocation"] = RevocationWatcher(app.config["REVOCATION_POLL_SECONDS"])


def watcher():
    return current_app.extensions["revocation"]


def end_session(sid, message):
    notifier.to_socket(sid, "session-revoked", message)
    socketio.server.disconnect(sid, namespace="/")


def watch_forever(app):
    """Background task: disconnect revoked and expired sockets within about one poll
    interval."""
    state = app.extensions["revocation"]
    while True:
        socketio.sleep(state.poll_seconds)
        try:
            with app.app_context():
                for sid, message in state.ended():
                    end_session(sid, message)
        except PyMongoError as error:
            app.logger.warning("revocation poll failed: %s", type(error).__name__)
        except Exception:  # keep watching whatever happens
            app.logger.exception("revocation poll failed")

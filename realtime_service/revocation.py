"""Disconnecting revoked sessions.

Each process remembers, per socket, the account, role, `jti` and `ver` of the token
it connected with. A background task polls the database every REVOCATION_POLL_SECONDS
for tokens blacklisted (logout) and accounts that bumped their tokenVersion (logout
everywhere, password change) since its last poll, and sends `session-revoked` to,
then disconnects, every local socket whose token that revoked. Polling the database
works whether the auth service runs in this process, in another one, or on another
host, with or without Redis.
"""
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from pymongo.errors import PyMongoError

from realtime_service.app import socketio
from shared.config import env_float
from shared.models import revocations
from shared.serialize import now

# Revocations stamped this long before the previous poll are looked at again: covers
# clock skew between processes and a write that lands while a poll runs.
OVERLAP = timedelta(seconds=5)
REVOKED = {"message": "Your session has been revoked, please log in again"}


@dataclass(frozen=True)
class SocketSession:
    account_id: str
    role: str
    jti: str
    ver: int


class RevocationWatcher:
    def __init__(self, poll_seconds):
        self.poll_seconds = poll_seconds
        self.sessions = {}  # socket id -> SocketSession
        self.since = now()

    def track(self, sid, session):
        self.sessions[sid] = session

    def forget(self, sid):
        return self.sessions.pop(sid, None)

    def revoked_sids(self):
        """The local sockets whose token was revoked since the previous call."""
        started, cutoff = now(), self.since - OVERLAP
        jtis = revocations.revoked_jtis_since(cutoff)
        versions = revocations.token_versions_since(cutoff)
        self.since = started
        return [sid for sid, session in list(self.sessions.items())
                if session.jti in jtis or session.ver < versions.get(session.account_id, 0)]


def init_app(app):
    poll = app.config.get("REVOCATION_POLL_SECONDS") or env_float("REVOCATION_POLL_SECONDS", 0.5)
    app.extensions["revocation"] = RevocationWatcher(poll)


def watcher():
    return current_app.extensions["revocation"]


def revoke(sid):
    socketio.emit("session-revoked", REVOKED, to=sid)
    socketio.server.disconnect(sid, namespace="/")


def watch_forever(app):
    """Background task: disconnect revoked sockets within about one poll interval."""
    state = app.extensions["revocation"]
    while True:
        socketio.sleep(state.poll_seconds)
        try:
            with app.app_context():
                for sid in state.revoked_sids():
                    revoke(sid)
        except PyMongoError as error:
            app.logger.warning("revocation poll failed: %s", type(error).__name__)
        except Exception:  # keep watching whatever happens
            app.logger.exception("revocation poll failed")

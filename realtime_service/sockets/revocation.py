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
"""
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


class RevocationWatcher:
    def __init__(self, feed):
        self.feed = feed
        self.sessions = {}  # socket id -> SocketSession
        feed.watch_versions()

    def track(self, sid, session):
        self.sessions[sid] = session

    def forget(self, sid):
        return self.sessions.pop(sid, None)

    def ended(self):
        """`(socket id, message)` of the local sockets whose token is revoked or has
        expired, from the feed read again first."""
        self.feed.refresh()
        started, ended = time.time(), []
        for sid, session in list(self.sessions.items()):
            if self.feed.ends_socket(session.jti, session.account_id, session.ver):
                ended.append((sid, REVOKED))
            elif session.exp <= started:
                ended.append((sid, EXPIRED))
        return ended


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

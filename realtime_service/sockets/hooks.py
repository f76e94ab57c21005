"""What a layer above the core adds to the realtime namespace, per app: who may connect
without a credential, extra checks and side effects of a connection, and what follows
a captain's location update. Events of its own it registers with the public
`socketio.on_event`."""
from dataclasses import dataclass, field

from flask import current_app


@dataclass
class SocketHooks:
    anonymous: object = None  # () -> bool: accept a connection that sent no credential
    connect_checks: list = field(default_factory=list)  # (account_id) -> refusal or None
    connected: list = field(default_factory=list)  # (role, account_id, sid)
    disconnected: list = field(default_factory=list)  # (role, account_id, sid, last)
    # (captain_id, first_over_cookie): after a location update; whether it is the first
    # of a connection authenticated by the cookie. In an app context, not a request's.
    located: list = field(default_factory=list)


def init_app(app):
    app.extensions["socket_hooks"] = SocketHooks()


def hooks():
    return current_app.extensions["socket_hooks"]

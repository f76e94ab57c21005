"""Events served without Flask-SocketIO's per-event request context.

A captain's `update-location-captain` is the one event a city sends thousands of times
a second; a Flask request context per event (the URL map matched, the session put in
place) cost about a third of the worker's CPU per update (BENCHMARKS.md, scenario 10).
So the namespace serves it in an app context only, from what the connection recorded
here when it connected (its captain, vehicle type and how it authenticated), with the
same event limit, answers and error handling as every other event. A socket not
recorded here (anonymous, a rider) goes the ordinary way.
"""
from dataclasses import dataclass

from flask import current_app

from realtime_service.sockets import event_limits
from realtime_service.sockets.events import error_message, refuse_event
from shared.accounts.roles import Role


@dataclass(slots=True)
class Reporter:
    """A captain's connection as its location updates need it."""
    captain_id: object  # ObjectId
    vehicle_type: str | None
    via_cookie: bool
    limit_key: str
    located: bool = False  # an update of this connection went through already


def init_app(app):
    app.extensions["lean_reporters"] = {}  # socket id -> Reporter


def reporters(app=None):
    """{socket id: Reporter} of this app's captain connections."""
    return (app or current_app).extensions["lean_reporters"]


def captain_connected(sid, captain_id, vehicle_type, via_cookie):
    """Record a captain's connection (again, when a recovered socket connects anew)."""
    reporters()[sid] = Reporter(captain_id, vehicle_type, via_cookie,
                                event_limits.account_key(Role.CAPTAIN, str(captain_id)))


def forget(sid):
    """The connection ended: no longer served the lean way."""
    reporters().pop(sid, None)


def serve(app, sid, handler, *args):
    """`handler(reporter, *args)` for the recorded captain connection `sid`, in an app
    context; its answer, or `{"ok": false, "message"}` (and an `error` event) when the
    account is over its event limit or the handler raised, as `socket_error` answers."""
    with app.app_context():
        reporter = reporters(app)[sid]
        if event_limits.over_limit(reporter.limit_key):
            return refuse_event(event_limits.TOO_MANY, sid)
        try:
            return handler(reporter, *args)
        except Exception as error:  # every error answered, as the Flask path does
            return refuse_event(error_message(error, handler.__name__), sid)

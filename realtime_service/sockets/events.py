"""What every Socket.IO event handler uses: the per-account event limit, the parsing of a
payload, the one error handler of every event (`socket_error`, Flask-SocketIO's
`on_error_default`), and how a connection or an event is refused."""
import functools

from flask import current_app, request
from flask_socketio import ConnectionRefusedError
from pymongo.errors import PyMongoError
from redis import RedisError

from realtime_service.extensions import socketio
from realtime_service.sockets import event_limits, notifier, recovery
from shared.errors import ApiError, BadRequest, Invalid
from shared.validation import load

# Long enough for a long-polling client on a loaded machine to poll the refusal.
REFUSED_GRACE_SECONDS = 0.5
UNAVAILABLE = "Service unavailable, try again later"
FAILED = "Something went wrong"


def limited(handler):
    """An event over the account's SOCKET_EVENT_RATE_LIMIT is refused and does nothing."""

    @functools.wraps(handler)
    def wrapper(*args):
        if event_limits.over_limit():
            return refuse_event(event_limits.TOO_MANY)
        return handler(*args)

    return wrapper


@socketio.on_error_default
def socket_error(error):
    """Every error of every handler: a refused connection, or a refused event answered
    with `error` {"message"} and the acknowledgement {"ok": false, "message"}."""
    message = error_message(error, request.event["message"])
    if request.event["message"] == "connect":
        refuse(message)
    return refuse_event(message)


def error_message(error, event):
    """What a client is told of an error of handler `event` (logged when unexpected)."""
    if isinstance(error, ApiError):
        return error.message
    if isinstance(error, PyMongoError | RedisError):
        return UNAVAILABLE
    current_app.logger.exception("socket event %s failed", event)
    return FAILED


def parse(schema, data):
    """`data` loaded with `schema`; BadRequest with a readable message otherwise."""
    try:
        return load(schema, data)
    except Invalid as error:
        raise BadRequest("; ".join(
            f"{e['param']}: {e['msg']}" if e["param"] else e["msg"] for e in error.errors)
        ) from None


def refuse_event(message, sid=None):
    """Bad data is answered with `error` {"message"} and changes nothing (to socket
    `sid`, by default the one of the event being handled)."""
    notifier.to_socket(sid or request.sid, "error", {"message": message})
    return {"ok": False, "message": message}


def refuse(message):
    """Refuse the connection (`connect_error` with `{"message"}`), then close the
    transport: an unauthenticated Engine.IO connection is not kept open."""
    recovery.end(request.sid)
    close_transport_soon(request.sid)
    raise ConnectionRefusedError(message)


def close_transport_soon(sid):
    """Close the connection's transport after a grace period (the client reconnects)."""
    eio_sid = socketio.server.manager.eio_sid_from_sid(sid, "/")
    socketio.start_background_task(_close_transport, eio_sid)


def _close_transport(eio_sid):
    socketio.sleep(REFUSED_GRACE_SECONDS)  # a polling client needs a poll to read the error
    socketio.server.eio.disconnect(eio_sid)

"""Domain errors and the one place that turns every exception into the API's shapes.

Services raise `NotFound`, `Conflict`, `Forbidden`, `Invalid`, ... (never a response);
`register_error_handlers` maps them, werkzeug's HTTP errors and database outages to
`{"message"}` (or `{"errors": [...]}` for `Invalid`). Anything unexpected is a 500
whose traceback goes to the log, never to the client.
"""
import logging

from flask import jsonify
from pymongo.errors import DuplicateKeyError, PyMongoError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

# Every driver error is an outage to the client (a 503 it may retry): a lost connection
# (ConnectionFailure: AutoReconnect, NetworkTimeout, ...), an operation the server
# interrupted, or a client closed by a stopping process (InvalidOperation).
DB_DOWN_ERRORS = PyMongoError

MESSAGES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    415: "Content-Type must be application/json",
    429: "Too many requests",
    500: "Internal server error",
    503: "Database unavailable",
}
SHUTTING_DOWN = "Service is shutting down, try again"


class ApiError(Exception):
    """An error with an HTTP status and a message that is safe to show."""

    status = 400

    def __init__(self, *args, headers=None):
        # ApiError(404, "msg") or, in subclasses with a fixed status, NotFound("msg").
        if args and isinstance(args[0], int):
            self.status, args = args[0], args[1:]
        self.message = args[0] if args and args[0] else MESSAGES.get(self.status, "Error")
        self.headers = headers or {}
        super().__init__(self.message)


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


class TooManyRequests(ApiError):
    status = 429


class ShuttingDown(ApiError):
    """A request still running when the grace period of a stop ends (shared/serve.py)."""

    status = 503

    def __init__(self, *args):
        super().__init__(SHUTTING_DOWN, headers={"Connection": "close", "Retry-After": "1"})


class Invalid(Exception):
    """400 with express-validator's `{"errors": [{"msg", "param", "location"}]}`."""

    def __init__(self, errors):
        super().__init__("validation failed")
        self.errors = errors

    @classmethod
    def field(cls, param, msg, location="body"):
        return cls([{"msg": msg, "param": param, "location": location}])




def database_cause(error):
    """The database error that `error` is or was raised from (by a wrapping library, or
    as the original of a 500 raised in after_request), or None."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, DB_DOWN_ERRORS):
            return error
        seen.add(id(error))
        error = (getattr(error, "original_exception", None) or error.__cause__
                 or error.__context__)
    return None


def database_error_response(error):
    """409 for a unique index's refusal that no service expected, 503 otherwise."""
    if isinstance(error, DuplicateKeyError):
        log.warning("unexpected duplicate key: %s", error.details)
        return error_response(409)
    log.warning("database unavailable: %s", type(error).__name__)
    return error_response(503)


def error_response(status, message=None, headers=None):
    response = jsonify({"message": message or MESSAGES.get(status, "Error")})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def register_error_handlers(app):
    @app.errorhandler(ApiError)
    def api_error(error):
        return error_response(error.status, error.message, error.headers)

    @app.errorhandler(Invalid)
    def invalid(error):
        return jsonify({"errors": error.errors}), 400

    @app.errorhandler(HTTPException)
    def http_error(error):
        cause = database_cause(error) if error.code == 500 else None
        if cause is not None:  # e.g. raised by an after_request function
            return database_error_response(cause)
        # Keep werkzeug's extra headers (Allow on 405, Retry-After on 429).
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        message = MESSAGES.get(error.code) or error.name
        if error.code == 429:
            message = "Too many requests, try again later"
        return error_response(error.code, message, headers)

    @app.errorhandler(DB_DOWN_ERRORS)
    def database_down(error):
        return database_error_response(error)

    @app.errorhandler(Exception)
    def unexpected(error):
        cause = database_cause(error)
        if cause is not None:
            return database_error_response(cause)
        log.exception("unhandled error")
        return error_response(500)

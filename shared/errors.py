"""Every exception becomes the JSON error shape of API.md.

- `ApiError(status, message)`: raise it from any handler or model.
- `ValidationFailed(errors)`: 400 with express-validator's `{"errors": [...]}`.
- werkzeug HTTP errors (404, 405, 413, 415, 429, ...): `{"message": ...}`.
- pymongo connection failures: 503 `{"message": "Database unavailable"}`.
- anything else: 500 `{"message": "Internal server error"}`; the traceback goes to the
  log, never to the client.
"""
import logging

from flask import jsonify
from pymongo.errors import ConnectionFailure
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

# ServerSelectionTimeoutError, AutoReconnect and NetworkTimeout are all ConnectionFailure.
DB_DOWN_ERRORS = ConnectionFailure

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


class ApiError(Exception):
    def __init__(self, status, message=None, headers=None):
        super().__init__(message or MESSAGES.get(status, "Error"))
        self.status = status
        self.message = message or MESSAGES.get(status, "Error")
        self.headers = headers or {}


class ValidationFailed(Exception):
    """400 with a list of `{"msg", "param", "location"}` entries."""

    def __init__(self, errors):
        super().__init__("validation failed")
        self.errors = errors


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

    @app.errorhandler(ValidationFailed)
    def validation_failed(error):
        return jsonify({"errors": error.errors}), 400

    @app.errorhandler(HTTPException)
    def http_error(error):
        # Keep werkzeug's extra headers (Allow on 405, Retry-After on 429).
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        message = MESSAGES.get(error.code) or error.name
        if error.code == 429:
            message = "Too many requests, try again later"
        return error_response(error.code, message, headers)

    @app.errorhandler(DB_DOWN_ERRORS)
    def database_down(error):
        log.warning("database unavailable: %s", type(error).__name__)
        return error_response(503)

    @app.errorhandler(Exception)
    def unexpected(error):
        log.exception("unhandled error")
        return error_response(500)

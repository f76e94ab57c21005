"""Structured logs: one JSON object per line on stderr, each with the request id.

The request id comes from the `X-Request-ID` header when it is a sane value (a
gateway or client can then follow one request through both services), or is
generated; it is returned in the response's `X-Request-ID` header and put on every
log line written while the request runs. Every request gets one access-log line:
method, path (never the query string, which may carry a Socket.IO token), status,
duration. Anything that looks like a JWT or a password/token/OTP value is masked
before a line is written, whatever logged it.
"""
import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

REQUEST_ID_HEADER = "X-Request-ID"
request_id_var = ContextVar("request_id", default=None)
access_log = logging.getLogger("ridewire.access")

VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
QUIET_PATHS = {"/healthz", "/readyz"}  # probes every few seconds: DEBUG, not INFO
REDACTIONS = [
    (re.compile(r"eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]*"), "[redacted]"),
    (re.compile(
        r"""(?P<key>["']?(?:password|newPassword|currentPassword|refreshToken|token|otp|"""
        r"""authorization)["']?\s*[:=]\s*)(?P<value>"[^"]*"|'[^']*'|[^\s,;&}]+)""",
        re.IGNORECASE), r"\g<key>[redacted]"),
]
RECORD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime", "taskName"}


def redact(text):
    for pattern, replacement in REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "message", "request_id", ...extra}` on one line."""

    def format(self, record):
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
        }
        for key, value in vars(record).items():
            if key not in RECORD_ATTRS and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


def configure_logging(level="INFO"):
    """Route every logger through one JSON handler on stderr (idempotent). Plain
    stream handlers (logging.basicConfig's) are replaced; others, such as a test
    runner's capture handlers, are left alone."""
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        for handler in list(root.handlers):
            if type(handler) is logging.StreamHandler:
                root.removeHandler(handler)
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    root.setLevel(level)


def adopt_loggers(*names):
    """Drop the plain handlers that libraries attach to their own loggers
    (python-engineio and python-socketio do), so that their lines go through the
    root's JSON handler like every other line."""
    for name in names:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.propagate = True


def request_id_from(environ):
    supplied = environ.get("HTTP_X_REQUEST_ID", "")
    return supplied if VALID_REQUEST_ID.match(supplied) else uuid.uuid4().hex


def log_request(wsgi_app, environ, start_response):
    """Run one WSGI request with a request id, and write its access-log line."""
    request_id = request_id_from(environ)
    environ["HTTP_X_REQUEST_ID"] = request_id
    context = request_id_var.set(request_id)
    status = []

    def start(status_line, headers, exc_info=None):
        status.append(int(status_line.split(" ", 1)[0]))
        headers = [(k, v) for k, v in headers if k.lower() != "x-request-id"]
        headers.append((REQUEST_ID_HEADER, request_id))
        return start_response(status_line, headers, exc_info)

    started = time.perf_counter()
    try:
        return wsgi_app(environ, start)
    finally:
        write_access_log(environ, status[-1] if status else None, started)
        request_id_var.reset(context)


def write_access_log(environ, status, started):
    """The request's access-log line. Made with `makeRecord` and `handle`, as
    `Logger.log` does, but without its search of the stack for the caller's file and
    line, which no line shows and which was a third of the log's cost per request."""
    path = environ.get("PATH_INFO", "")
    level = logging.DEBUG if path in QUIET_PATHS else logging.INFO
    if not access_log.isEnabledFor(level):
        return
    method = environ.get("REQUEST_METHOD")
    if status is None and environ.get("HTTP_UPGRADE", "").lower() == "websocket":
        status = 101
    access_log.handle(access_log.makeRecord(
        access_log.name, level, __file__, 0, "%s %s", (method, path), None,
        func="log_request", extra={
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            "remote_addr": environ.get("REMOTE_ADDR"),
            "forwarded_for": environ.get("HTTP_X_FORWARDED_FOR"),
        }))


def gunicorn_logconfig(level="INFO"):
    """gunicorn's `logconfig_dict`: its own messages as JSON lines too; no gunicorn
    access log (the apps write their own, with the request id)."""
    handler = {"class": "logging.StreamHandler", "formatter": "json",
               "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stderr": handler},
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["stderr"], "propagate": False},
            "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
        },
    }

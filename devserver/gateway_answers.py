"""What `make run`'s gateway answers itself: JSON errors, CORS preflights for paths no
service has, and the files of a built frontend (FRONTEND_DIR).

Every one of these answers carries CORS headers, so that a browser on an allowed
origin can read the error instead of reporting a CORS failure;
deploy/nginx.conf adds the same headers to its own answers.
"""
import email.utils
import json
import mimetypes
from http import HTTPStatus
from pathlib import Path

# The services' CORS settings (shared/cors.py), for paths that reach no service.
ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
ALLOW_HEADERS = "Authorization, Content-Type, token, X-Request-ID, X-Socket-ID"
EXPOSE_HEADERS = "Retry-After, X-Request-ID"
MAX_AGE = "600"

# The same texts as nginx's own answers (deploy/nginx.conf).
MESSAGES = {
    400: "Bad request",
    404: "Not found",
    413: "Request body too large",
    431: "Request header fields too large",
    503: "Service unavailable",
}

# Deterministic types for what a web build holds, whatever /etc/mime.types says.
TYPES = mimetypes.MimeTypes()
for _type, _ext in (("text/javascript", ".js"), ("text/javascript", ".mjs"),
                    ("application/json", ".map"), ("application/manifest+json", ".webmanifest"),
                    ("font/woff", ".woff"), ("font/woff2", ".woff2"),
                    ("application/wasm", ".wasm"), ("image/webp", ".webp"),
                    ("image/svg+xml", ".svg"), ("image/x-icon", ".ico")):
    TYPES.add_type(_type, _ext)


def cors_headers(origin, allowed_origins, preflight=False):
    """The CORS headers of an answer to a request from `origin` (None: not a browser's
    cross-origin request): the origin itself when it is allowed, with credentials, as
    the services do; `*` without credentials when CORS_ORIGINS is `*`."""
    headers = [("Vary", "Origin")]
    if origin and "*" in allowed_origins:
        headers.append(("Access-Control-Allow-Origin", "*"))
    elif origin and origin in allowed_origins:
        headers += [("Access-Control-Allow-Origin", origin),
                    ("Access-Control-Allow-Credentials", "true")]
    if len(headers) > 1:
        headers.append(("Access-Control-Expose-Headers", EXPOSE_HEADERS))
    if preflight:
        headers += [("Access-Control-Allow-Methods", ALLOW_METHODS),
                    ("Access-Control-Allow-Headers", ALLOW_HEADERS),
                    ("Access-Control-Max-Age", MAX_AGE)]
    return headers


def response_head(status, headers):
    """An HTTP/1.1 response head that closes the connection after the body."""
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"]
    lines += [f"{name}: {value}" for name, value in headers]
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def json_answer(status, cors, payload=None, head_only=False):
    """A whole JSON answer (head and body): `{"message"}` unless `payload` is given;
    no body for 204 or for a HEAD request."""
    if status == 204:
        return response_head(status, cors)
    body = json.dumps(payload or {"message": MESSAGES[status]}).encode()
    head = response_head(status, [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(body))), *cors])
    return head if head_only else head + body


WELL_KNOWN = ".well-known"


def hidden(path):
    """Whether a normalised path names a hidden file or folder (`.env`, `.git/`): a
    segment starting with a dot, `/.well-known/...` excepted (nginx.conf's rule)."""
    segments = path.split("/")[1:]
    if segments[0] == WELL_KNOWN and len(segments) > 1:
        segments = segments[1:]
    return any(segment.startswith(".") for segment in segments)


class Frontend:
    """A built single-page app (FRONTEND_DIR) served at the gateway's root: its files,
    and its index.html for any other GET path that no route takes. A hidden path
    (`hidden`) is neither: the gateway answers 404."""

    def __init__(self, directory):
        self.root = Path(directory).resolve(strict=True)
        if not self.root.is_dir():
            raise NotADirectoryError(f"FRONTEND_DIR={directory} is not a directory")
        index = self.root / "index.html"
        self.index = index if index.is_file() else None

    def file(self, path):
        """The file for a normalised request path, or None: never a directory (no
        listing) and never outside the folder, symbolic links included."""
        candidate = (self.root / path.lstrip("/")).resolve()
        if candidate.is_relative_to(self.root) and candidate.is_file():
            return candidate
        return None


def file_head(path, size, cors):
    """The head of a frontend file's answer. Browsers revalidate every time (no-cache),
    so a rebuilt frontend is never mixed with stale files."""
    content_type = TYPES.guess_type(path.name)[0] or "application/octet-stream"
    if content_type.startswith("text/"):
        content_type += "; charset=utf-8"
    modified = email.utils.formatdate(path.stat().st_mtime, usegmt=True)
    return response_head(200, [("Content-Type", content_type), ("Content-Length", str(size)),
                               ("Cache-Control", "no-cache"), ("Last-Modified", modified),
                               ("X-Content-Type-Options", "nosniff"), *cors])

"""`make run`'s gateway: one origin (GATEWAY_PORT, 5000) for frontends, in front of both
services, routing by deploy/nginx.conf's locations as nginx does (devserver/routes.py).

A WSGI app under gunicorn (gevent worker), which parses requests, bounds their heads and
times out slow ones (keepalive: HEADER_TIMEOUT), as it does for the services. A routed
request goes to its service with X-Forwarded-For/-Proto/-Host set (the client's own
address, never what it wrote) and the answer streams back as it comes; a websocket
upgrade on a websocket route becomes a tunnel once the service answers 101. Paths no
service has get the gateway's own answers, all with CORS headers: a built frontend's
files (FRONTEND_DIR), preflights, JSON errors. This module is gunicorn's config too:

    python -m gunicorn -c python:devserver.gateway    # settings from the environment
"""
import email.utils
import errno
import functools
import http.client
import json
import mimetypes
import os
import re
from http import HTTPStatus
from pathlib import Path

import gevent
from gevent import socket
from werkzeug.datastructures import EnvironHeaders

from devserver import routes
from shared.config import Config
from shared.cors import ALLOW_HEADERS, EXPOSE_HEADERS, METHODS

CHUNK = 64 * 1024
CONNECT_SECONDS = 5.0
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade",
              "transfer-encoding", "expect", "x-forwarded-for", "x-forwarded-proto",
              "x-forwarded-host"}
# The same texts as nginx's own answers (deploy/nginx.conf).
MESSAGES = {400: "Bad request", 404: "Not found", 413: "Request body too large",
            503: "Service unavailable"}
# A path with a segment starting with a dot, `/.well-known/...` excepted (nginx.conf's).
HIDDEN = re.compile(r"^/\.(?!well-known/)|^/.+/\.")
# Deterministic types for what a web build holds, whatever /etc/mime.types says.
TYPES = mimetypes.MimeTypes()
for _type, _ext in (("text/javascript", ".js"), ("text/javascript", ".mjs"),
                    ("application/json", ".map"), ("application/manifest+json", ".webmanifest"),
                    ("font/woff", ".woff"), ("font/woff2", ".woff2"),
                    ("application/wasm", ".wasm"), ("image/webp", ".webp"),
                    ("image/svg+xml", ".svg"), ("image/x-icon", ".ico")):
    TYPES.add_type(_type, _ext)


class TooLarge(Exception):
    """A chunked request body went over MAX_BODY (nginx.conf's client_max_body_size)."""


class ClientError(Exception):
    """Reading the client's body failed (it went away, or sent a bad chunk)."""


class Frontend:
    """A built single-page app (FRONTEND_DIR) served at the gateway's root: its files,
    and its index.html for any other GET path that no route takes."""

    def __init__(self, directory):
        self.root = Path(directory).resolve(strict=True)
        if not self.root.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), directory)
        index = self.root / "index.html"
        self.index = index if index.is_file() else None

    def file(self, path):
        """The file of a normalised path, or None: never a directory (no listing), never
        outside the folder (links included)."""
        candidate = (self.root / path.lstrip("/")).resolve()
        if candidate.is_relative_to(self.root) and candidate.is_file():
            return candidate
        return None


def connect_host(host):
    """Where to reach a service listening on HOST (a wildcard means this machine)."""
    return {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)


@functools.cache
def frontend():
    """FRONTEND_DIR's Frontend, or None (built on first use: `make run` imports this
    module only to check the folder)."""
    return Frontend(Config.FRONTEND_DIR) if Config.FRONTEND_DIR else None


UPSTREAMS = {"auth": Config.AUTH_PORT, "realtime": Config.REALTIME_PORT}  # nginx.conf's names


def app(environ, start_response):
    """Route one request: the gateway's health, a redirect, a service, or its own answer."""
    method, origin = environ["REQUEST_METHOD"], environ.get("HTTP_ORIGIN")
    cors = cors_headers(origin, Config.CORS_ORIGINS, preflight=method == "OPTIONS")
    path, query = routes.split_target(environ["RAW_URI"])
    reply = Reply(start_response, cors, method == "HEAD")
    if path is None:
        return reply.json(400)
    if int(environ.get("CONTENT_LENGTH") or 0) > routes.MAX_BODY:
        return reply.json(413)
    if path == routes.HEALTH_PATH:
        return reply.json(200, {"status": "ok"})
    if location := routes.redirect_for(path):
        location += f"?{query}" if query else ""
        return reply.json(301, {"message": "Moved Permanently"}, [("Location", location)])
    route = routes.resolve(path)
    files = frontend() if method in {"GET", "HEAD"} and not HIDDEN.search(path) else None
    page = files is not None and files.index is not None
    if route is not None and not (route.page and page):
        target = route.target(environ["RAW_URI"], path, query)
        return forward(environ, reply, route, target)
    if method == "OPTIONS":
        return reply.json(204)
    found = files and (files.file(path) or files.index)
    return reply.file(environ, found) if found else reply.json(404)


class Reply:
    """The gateway's own answers, each with the request's CORS headers."""

    def __init__(self, start_response, cors, head_only):
        self.start_response, self.cors, self.head_only = start_response, cors, head_only

    def json(self, status, payload=None, headers=()):
        """`{"message"}` unless `payload` is given; no body for 204 or a HEAD request."""
        if status == 204:
            self.start_response("204 No Content", self.cors)
            return []
        body = json.dumps(payload or {"message": MESSAGES[status]}).encode()
        self.start_response(f"{status} {HTTPStatus(status).phrase}", [
            ("Content-Type", "application/json"), ("Content-Length", str(len(body))),
            *headers, *self.cors])
        return [] if self.head_only else [body]

    def file(self, environ, path):
        """A frontend file; browsers revalidate every time (no-cache), so a rebuilt
        frontend is never mixed with stale files."""
        kind = TYPES.guess_type(path.name)[0] or "application/octet-stream"
        kind += "; charset=utf-8" if kind.startswith("text/") else ""
        stat = path.stat()
        self.start_response("200 OK", [
            ("Content-Type", kind), ("Content-Length", str(stat.st_size)),
            ("Cache-Control", "no-cache"), ("X-Content-Type-Options", "nosniff"),
            ("Last-Modified", email.utils.formatdate(stat.st_mtime, usegmt=True)), *self.cors])
        return [] if self.head_only else environ["wsgi.file_wrapper"](path.open("rb"), CHUNK)


def cors_headers(origin, allowed_origins, preflight=False):
    """The CORS headers of an answer to `origin` (None: not a cross-origin request): the
    origin itself when allowed, with credentials, as the services do; `*` without."""
    headers = [("Vary", "Origin")]
    if origin and "*" in allowed_origins:
        headers.append(("Access-Control-Allow-Origin", "*"))
    elif origin and origin in allowed_origins:
        headers += [("Access-Control-Allow-Origin", origin),
                    ("Access-Control-Allow-Credentials", "true")]
    if len(headers) > 1:
        headers.append(("Access-Control-Expose-Headers", ", ".join(EXPOSE_HEADERS)))
    if preflight:
        headers += [("Access-Control-Allow-Methods", ", ".join(METHODS)),
                    ("Access-Control-Allow-Headers", ", ".join(ALLOW_HEADERS)),
                    ("Access-Control-Max-Age", "600")]
    return headers


def request_headers(environ):
    """The client's headers without hop-by-hop ones, plus the forwarding headers: the
    client's address only, whatever it wrote (nginx's `$remote_addr`)."""
    named = {name.strip().lower() for name in environ.get("HTTP_CONNECTION", "").split(",")}
    headers = {name: value for name, value in EnvironHeaders(environ).items()
               if value and name.lower() not in HOP_BY_HOP | named}
    headers.update({"X-Forwarded-For": environ["REMOTE_ADDR"], "X-Forwarded-Proto": "http"})
    if "Host" in headers:
        headers["X-Forwarded-Host"] = headers["Host"]
    return headers


def body(environ):
    """The request body as it arrives (gunicorn decodes a chunked one); TooLarge past
    MAX_BODY, ClientError when reading it fails."""
    total = 0
    while True:
        try:
            data = environ["wsgi.input"].read(CHUNK)
        except Exception as error:  # gunicorn's: NoMoreData, a bad chunk size...
            raise ClientError from error
        total += len(data)
        if total > routes.MAX_BODY:
            raise TooLarge
        if not data:
            return
        yield data


def forward(environ, reply, route, target):
    """The request to the route's service, its answer streamed back. A websocket upgrade
    on a websocket route becomes a tunnel only once the service answers 101; any other
    answer is a plain one, and what the client sends next is parsed as a new request."""
    headers = request_headers(environ)
    if route.websocket and "websocket" in environ.get("HTTP_UPGRADE", "").lower():
        headers.update({"Connection": "Upgrade", "Upgrade": "websocket"})
    chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    payload = body(environ) if chunked or "Content-Length" in headers else None
    upstream = http.client.HTTPConnection(connect_host(Config.HOST), UPSTREAMS[route.upstream],
                                          timeout=CONNECT_SECONDS)
    try:
        upstream.connect()
        upstream.sock.settimeout(None)  # long-polling and streams wait as long as they must
        # A body of unknown length goes on chunked (http.client's framing).
        upstream.request(environ["REQUEST_METHOD"], target, payload, headers)
    except TooLarge:
        upstream.close()
        return reply.json(413)
    except ClientError as error:  # gunicorn answers or drops the client as it does
        upstream.close()
        raise error.__cause__ from None
    except OSError:
        pass  # it stopped reading: it has answered already (its own 413), or it is down
    try:
        answer = upstream.getresponse()
    except (OSError, http.client.HTTPException):
        upstream.close()
        return reply.json(503)
    if answer.status == HTTPStatus.SWITCHING_PROTOCOLS:
        tunnel(environ["gunicorn.socket"], answer, upstream.sock)
    reply.start_response(f"{answer.status} {answer.reason}", answer.getheaders())
    return stream(answer, upstream)


def stream(answer, upstream):
    """The service's answer, piece by piece as it comes (long-polling, streams)."""
    try:
        while data := answer.read1(CHUNK):
            yield data
    finally:
        upstream.close()


def tunnel(client, answer, upstream):
    """The 101 to the client, then bytes both ways until either side closes; then
    gunicorn closes the client's connection (StopIteration: its way to be told)."""
    lines = [f"HTTP/1.1 101 {answer.reason}", *(f"{k}: {v}" for k, v in answer.getheaders())]
    client.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    for sock in (client, upstream):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    pipes = [gevent.spawn(pipe, answer.fp.read1, client.sendall),
             gevent.spawn(pipe, client.recv, upstream.sendall)]
    gevent.joinall(pipes, count=1)
    gevent.killall(pipes)
    upstream.close()
    raise StopIteration


def pipe(read, write):
    """Copy until `read` ends or either side fails."""
    try:
        while data := read(CHUNK):
            write(data)
    except OSError:
        pass


# gunicorn's settings (this module is its config file).
wsgi_app = "devserver.gateway:app"
bind = f"{Config.HOST}:{Config.GATEWAY_PORT}"
worker_class = "gevent"
keepalive = Config.HEADER_TIMEOUT  # also every request head's deadline (gevent workers)
graceful_timeout = 1  # a quick Ctrl-C: open tunnels are not waited for
loglevel = "warning"
control_socket_disable = True


def when_ready(_server):
    print(f"gateway listening on http://{bind}", flush=True)

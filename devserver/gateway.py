"""`make run`'s gateway: one origin (GATEWAY_PORT, 5000) for frontends, in front of both
services, routing by deploy/nginx.conf's locations as nginx does (devserver/routes.py).

A WSGI app under gunicorn (gevent worker: request heads bounded and timed out as for the
services); this module is gunicorn's config too (`-c python:devserver.gateway`). A routed
request goes to its service with X-Forwarded-For/-Proto/-Host (the client's own address,
never what it wrote) and the answer streams back as it comes; a websocket upgrade
becomes a tunnel once the service answers 101. Other paths get the gateway's own
answers, all with CORS headers: FRONTEND_DIR's files, preflights, JSON errors.
"""
import http.client
import json
import mimetypes
import re
from pathlib import Path

import gevent
from gevent import socket
from werkzeug.datastructures import EnvironHeaders
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.utils import send_file
from werkzeug.wrappers import Response
from werkzeug.wsgi import LimitedStream

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
for _extension, _type in {
        ".js": "text/javascript", ".mjs": "text/javascript", ".map": "application/json",
        ".webmanifest": "application/manifest+json", ".woff": "font/woff",
        ".woff2": "font/woff2", ".wasm": "application/wasm", ".webp": "image/webp",
        ".svg": "image/svg+xml", ".ico": "image/x-icon"}.items():
    mimetypes.add_type(_type, _extension)
UPSTREAMS = {"auth": Config.AUTH_PORT, "realtime": Config.REALTIME_PORT}  # nginx.conf's names


def connect_host(host):
    """Where to reach a service listening on HOST (a wildcard means this machine)."""
    return {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)


def app(environ, start_response):
    """Route one request: a service's answer, or the gateway's own with CORS headers."""
    response = respond(environ, start_response)
    if not isinstance(response, Response):
        return response  # the service's, as it streams
    preflight = environ["REQUEST_METHOD"] == "OPTIONS"
    response.headers.extend(cors_headers(environ.get("HTTP_ORIGIN"), Config.CORS_ORIGINS,
                                         preflight))
    return response(environ, start_response)


def respond(environ, start_response):
    """The gateway's health, a redirect, a service (forwarded), a frontend file, or a
    JSON error; werkzeug's Response leaves out the body of a HEAD request or a 204."""
    method = environ["REQUEST_METHOD"]
    path, query = routes.split_target(environ["RAW_URI"])
    if path is None:
        return own(400)
    if int(environ.get("CONTENT_LENGTH") or 0) > routes.MAX_BODY:
        return own(413)
    if path == routes.HEALTH_PATH:
        return own(200, {"status": "ok"})
    if location := routes.redirect_for(path):
        return own(301, {"message": "Moved Permanently"},
                   {"Location": location + (f"?{query}" if query else "")})
    route = routes.resolve(path)
    static = method in {"GET", "HEAD"} and Config.FRONTEND_DIR and not HIDDEN.search(path)
    if route is not None and not (route.page and static and frontend_file("/")):
        target = route.target(environ["RAW_URI"], path, query)
        return forward(environ, start_response, route, target)
    if method == "OPTIONS":
        return own(204)
    if found := static and frontend_file(path):
        # Every GET gets the whole file (no-cache, no 304): a rebuilt frontend is never
        # mixed with stale files.
        response = send_file(found, environ, conditional=False)
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response
    return own(404)


def frontend_file(path):
    """FRONTEND_DIR's file at a normalised path, else its index.html, else None: never a
    folder (no listing), never outside FRONTEND_DIR (links included)."""
    root = Path(Config.FRONTEND_DIR).resolve()
    for candidate in ((root / path.lstrip("/")).resolve(), root / "index.html"):
        if candidate.is_relative_to(root) and candidate.is_file():
            return candidate
    return None


class Answer(Response):
    default_mimetype = None  # a 204 has no type


def own(status, payload=None, headers=None):
    """The gateway's own answer: JSON, `{"message"}` unless `payload` is given; a 204 empty."""
    body, kind = ("", None) if status == 204 else (
        json.dumps(payload or {"message": MESSAGES[status]}), "application/json")
    return Answer(body, status, headers, mimetype=kind)


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
    """The request body as it arrives (gunicorn decodes a chunked one): werkzeug raises
    RequestEntityTooLarge past MAX_BODY, ClientDisconnected when reading fails. (Its
    limit is the first size refused: a read at the limit raises even at the end.)"""
    stream = LimitedStream(environ["wsgi.input"], routes.MAX_BODY + 1, is_max=True)
    while data := stream.read(CHUNK):
        yield data


def forward(environ, start_response, route, target):
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
    except (RequestEntityTooLarge, ClientDisconnected) as error:
        upstream.close()
        return own(error.code)
    except OSError:
        pass  # it stopped reading: it has answered already (its own 413), or it is down
    except Exception:  # a chunk gunicorn cannot parse: it answers 400 itself
        upstream.close()
        raise
    try:
        answer = upstream.getresponse()
    except (OSError, http.client.HTTPException):
        upstream.close()
        return own(503)
    if answer.status == 101:
        tunnel(environ["gunicorn.socket"], answer, upstream.sock)
    start_response(f"{answer.status} {answer.reason}", answer.getheaders())
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

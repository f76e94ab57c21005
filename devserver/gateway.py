"""`make run`'s gateway: one origin (GATEWAY_PORT, 5000) for frontends, in front of both
services, routing by path as production's nginx does (devserver/routes.py).

One request per client connection: the head is parsed with h11 (framing, chunked
bodies, malformed requests), the service is picked by path, the request goes there with
`Connection: close` and X-Forwarded-For/-Proto/-Host set, and the response is piped
back as it arrives (long-polling, streaming). A websocket upgrade, on the websocket
routes only, is piped both ways once the service has answered 101, until either side
closes (devserver/proxy.py). X-Forwarded-For is the client's address (the peer's),
never what the client wrote. Paths no service has get the gateway's
own answers (devserver/gateway_answers.py): a built frontend's files (FRONTEND_DIR),
CORS preflights, JSON errors.

    python -m devserver.gateway     # HOST, GATEWAY_PORT, AUTH_PORT, REALTIME_PORT,
                                    # CORS_ORIGINS, FRONTEND_DIR from the environment
"""
import signal
import sys

import gevent
import gevent.event
import gevent.pool
import gevent.server
import h11
from gevent import socket

from devserver.gateway_answers import Frontend, cors_headers, file_head, hidden, json_answer
from devserver.proxy import (
    CHUNK,
    CLIENT_TIMEOUT,
    MAX_HEAD,
    HeadTimeout,
    Incoming,
    closing,
    content_length,
    next_event,
    no_delay,
    pipe,
    read_response_head,
    request_head,
    send_body,
    socket_to,
    status_of,
    tunnel,
)
from devserver.routes import AUTH, HEALTH_PATH, MAX_BODY, REALTIME, redirect_for, resolve

LINGER_SECONDS = 5.0
SWITCHING_PROTOCOLS = 101


class GatewayHandler:
    """The connection handler of a gevent StreamServer.

    `upstreams` maps "auth" and "realtime" to (host, port); `frontend` is a Frontend
    or None. A client that has not sent its request's head within `header_timeout`
    seconds (HEADER_TIMEOUT) is closed, however it drips it in; its body then has
    CLIENT_TIMEOUT per read, and a websocket no deadline."""

    def __init__(self, upstreams, cors_origins, frontend=None, max_body=MAX_BODY,
                 header_timeout=None):
        self.upstreams = upstreams
        self.cors_origins = set(cors_origins)
        self.frontend = frontend
        self.max_body = max_body
        self.header_timeout = header_timeout or None

    def handle(self, sock, address):
        no_delay(sock)
        sock.settimeout(CLIENT_TIMEOUT)
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        try:
            with gevent.Timeout(self.header_timeout, HeadTimeout):
                request = next_event(conn, sock)
            if isinstance(request, h11.Request):
                self.dispatch(Incoming(sock, address, conn, request))
        except h11.RemoteProtocolError as error:
            status = 431 if error.error_status_hint == 431 else 400
            self.reply(sock, json_answer(status, cors_headers(None, ())))
        except OSError:  # the client went away or timed out
            pass
        finally:
            sock.close()

    def dispatch(self, incoming):
        """A route's service, else the gateway's own answer."""
        cors = cors_headers(incoming.origin, self.cors_origins,
                            preflight=incoming.method == "OPTIONS")
        head_only = incoming.method == "HEAD"
        if incoming.path is None:
            return self.reply(incoming.sock, json_answer(400, cors))
        length = incoming.header(b"content-length")
        if length is not None and int(length) > self.max_body:
            return self.reply(incoming.sock, json_answer(413, cors))
        if incoming.path == HEALTH_PATH:
            return self.reply(incoming.sock, json_answer(200, cors, {"status": "ok"}, head_only))
        if location := redirect_for(incoming.path):
            location += f"?{incoming.query}" if incoming.query else ""
            return self.reply(incoming.sock, json_answer(
                301, [("Location", location), *cors], {"message": "Moved Permanently"}))
        route = resolve(incoming.path)
        if route is not None and not (route.page and self.serves_index(incoming)):
            return self.forward(incoming, route, cors)
        return self.answer_unrouted(incoming, cors, head_only)

    def serves_index(self, incoming):
        return (self.frontend is not None and self.frontend.index is not None
                and incoming.method in {"GET", "HEAD"})

    def answer_unrouted(self, incoming, cors, head_only):
        """A path no service takes: a preflight's 204, the frontend's file or its
        index.html (single-page app), else (a hidden path too: `.env`) the JSON 404."""
        if incoming.method == "OPTIONS":
            return self.reply(incoming.sock, json_answer(204, cors))
        if incoming.method in {"GET", "HEAD"} and self.frontend is not None \
                and not hidden(incoming.path):
            found = self.frontend.file(incoming.path) or self.frontend.index
            if found is not None:
                return self.send_file(incoming.sock, found, cors, head_only)
        return self.reply(incoming.sock, json_answer(404, cors, head_only=head_only))

    def forward(self, incoming, route, cors):
        """Send the request to the route's service and its answer back to the client."""
        try:
            upstream = socket_to(self.upstreams[route.upstream])
        except OSError:
            return self.reply(incoming.sock, json_answer(503, cors))
        try:
            self.relay(incoming, route, upstream, cors)
        finally:
            upstream.close()

    def relay(self, incoming, route, upstream, cors):
        """The request to the service, its answer to the client. A websocket upgrade on a
        websocket route becomes a tunnel only once the service answers 101; any other
        answer ends the exchange as a plain request's does, and what the client sent
        after its request never reaches the service (no request smuggled in a tunnel)."""
        target = route.target(incoming.raw_target, incoming.path, incoming.query)
        chunked = b"chunked" in incoming.headers.get(b"transfer-encoding", b"").lower()
        upgrade = incoming.websocket and route.websocket
        upstream.sendall(request_head(incoming, target, self.upstreams[route.upstream],
                                      chunked, upgrade))
        if incoming.conn.they_are_waiting_for_100_continue:
            incoming.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        if not send_body(incoming, upstream, chunked, self.max_body):
            return self.reply(incoming.sock, json_answer(413, cors))
        head, rest = read_response_head(upstream)
        if head is None:
            return self.reply(incoming.sock, json_answer(503, cors))
        incoming.sock.settimeout(None)
        if upgrade and status_of(head) == SWITCHING_PROTOCOLS:
            incoming.sock.sendall(head + b"\r\n\r\n" + rest)
            return tunnel(incoming, upstream)
        incoming.sock.sendall(closing(head) + rest)
        pipe(upstream, incoming.sock, body_left(head, rest) if upgrade else None)

    def send_file(self, sock, path, cors, head_only):
        with path.open("rb") as file:
            size = file.seek(0, 2)
            file.seek(0)
            sock.sendall(file_head(path, size, cors))
            while not head_only and (data := file.read(CHUNK)):
                sock.sendall(data)

    def reply(self, sock, answer):
        """Send one of the gateway's own answers, then close without discarding what the
        client may still be sending (a large body): a reset would lose the answer."""
        try:
            sock.sendall(answer)
            sock.shutdown(socket.SHUT_WR)
            linger(sock)
        except OSError:
            pass


def body_left(head, rest):
    """How much of the answer's body is still to come after `rest`, when its head says
    (a service asked to upgrade may keep the connection open after a refusal)."""
    length = content_length(head)
    return None if length is None else max(0, length - len(rest))


def linger(sock):
    """Read and drop what the client still sends, for at most LINGER_SECONDS."""
    with gevent.Timeout(LINGER_SECONDS, False):
        sock.settimeout(LINGER_SECONDS)
        while sock.recv(CHUNK):
            pass


def connect_host(host):
    """Where to reach a service listening on HOST (a wildcard means this machine)."""
    return {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)


def main():
    from shared.config import Config

    frontend = Frontend(Config.FRONTEND_DIR) if Config.FRONTEND_DIR else None
    host = connect_host(Config.HOST)
    upstreams = {AUTH: (host, Config.AUTH_PORT), REALTIME: (host, Config.REALTIME_PORT)}
    handler = GatewayHandler(upstreams, Config.CORS_ORIGINS, frontend,
                             header_timeout=Config.HEADER_TIMEOUT)
    server = gevent.server.StreamServer((Config.HOST, Config.GATEWAY_PORT), handler.handle,
                                        spawn=gevent.pool.Pool())
    stop = gevent.event.Event()
    gevent.signal_handler(signal.SIGTERM, stop.set)
    gevent.signal_handler(signal.SIGINT, stop.set)
    server.start()
    print(f"gateway listening on http://{Config.HOST}:{Config.GATEWAY_PORT}", flush=True)
    stop.wait()
    server.stop(timeout=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

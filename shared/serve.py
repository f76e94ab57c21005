"""Graceful shutdown, for the development server and for gunicorn.

On SIGTERM (or SIGINT for the development server) a process:
1. stops accepting connections;
2. runs the `on_shutdown` hooks: the realtime service closes every Socket.IO
   connection (clients reconnect, through the gateway, to another process, and the
   disconnect handlers clean presence up);
3. lets in-flight requests finish, for at most the grace period; their responses close
   their connection (`Connection: close`), so keep-alive clients go too;
4. then refuses what still comes on an open connection, and interrupts what still runs,
   with a 503 `{"message"}` (never a 500, never a request killed half-way);
5. runs the `on_close` hooks and closes the Mongo clients (Redis clients register
   an `on_close` hook).

This module is imported by the gunicorn config files in the master process, before
the workers monkey-patch: keep its top-level imports to the standard library and gevent.
"""
import gc
import json
import logging
import os
import signal
import socket
import time

import gevent
import gevent.event
import gevent.pool
import gevent.pywsgi
from werkzeug.wsgi import ClosingIterator

log = logging.getLogger("ridewire.serve")

# How long requests interrupted at the end of the grace period get to send their 503.
INTERRUPT_SECONDS = 1
# Allocations (net of frees) between two young-generation collections; Python's is 700.
GC_YOUNG_THRESHOLD = 20_000

_shutdown_hooks = []
_close_hooks = []


def on_shutdown(hook):
    """Run `hook()` when the process starts to stop, before in-flight requests drain."""
    _shutdown_hooks.append(hook)
    return hook


def on_close(hook):
    """Run `hook()` after in-flight requests drained (close connections to backends)."""
    _close_hooks.append(hook)
    return hook


def _run(hooks, phase):
    for hook in list(hooks):
        try:
            hook()
        except Exception:
            log.exception("%s hook %s failed", phase, getattr(hook, "__name__", hook))


def begin_shutdown():
    log.info("shutting down: no new connections, closing sockets, draining requests")
    _run(_shutdown_hooks, "shutdown")


def close_resources():
    from shared.db import close_clients

    _run(_close_hooks, "close")
    close_clients()
    log.info("stopped")


class InFlight:
    """WSGI middleware counting the requests being handled (until their response is
    closed), so that a stop can wait for those and not for idle keep-alive connections.
    `drain()` makes responses close their connection; `refuse()` answers 503 from then
    on and interrupts the requests still running."""

    def __init__(self, app):
        self.app = app
        self.count = 0
        self.busy = {}  # greenlet -> requests it is handling
        self.draining = False
        self.refusing = False

    def __call__(self, environ, start_response):
        if self.refusing:
            return _refusal(start_response)
        greenlet = gevent.getcurrent()
        self.count += 1
        self.busy[greenlet] = self.busy.get(greenlet, 0) + 1
        try:
            result = self.app(environ, self._closing(start_response))
        except BaseException:
            self._done(greenlet)
            raise
        return ClosingIterator(result, lambda: self._done(greenlet))

    def _done(self, greenlet):
        self.count -= 1
        left = self.busy.pop(greenlet, 1) - 1
        if left:
            self.busy[greenlet] = left

    def _closing(self, start_response):
        """`start_response`, adding `Connection: close` once the process drains."""

        def start(status, headers, exc_info=None):
            if self.draining and not any(k.lower() == "connection" for k, _ in headers):
                headers = [*headers, ("Connection", "close")]
            return start_response(status, headers, exc_info)

        return start

    def drain(self):
        self.draining = True

    def refuse(self, timeout):
        """Answer 503 to new requests; interrupt the running ones with ShuttingDown
        (the app answers it 503) and wait up to `timeout` for their answers."""
        from shared.errors import ShuttingDown

        self.draining = self.refusing = True
        if self.busy:
            log.warning("grace period over: interrupting %d requests", self.count)
            gevent.killall(list(self.busy), exception=ShuttingDown, block=False)
            self.wait(timeout)

    def wait(self, timeout):
        deadline = time.monotonic() + timeout
        while self.count > 0 and time.monotonic() < deadline:
            gevent.sleep(0.05)


def _refusal(start_response):
    """503 `{"message"}` without the app: the process is stopping."""
    from shared.errors import SHUTTING_DOWN

    body = json.dumps({"message": SHUTTING_DOWN}).encode()
    start_response("503 Service Unavailable", [
        ("Content-Type", "application/json"), ("Content-Length", str(len(body))),
        ("Retry-After", "1"), ("Connection", "close")])
    return [body]


class NoDelayHandler(gevent.pywsgi.WSGIHandler):
    """pywsgi sends a response in several writes; with Nagle's algorithm on, every
    response after the first on a keep-alive connection waits ~40 ms for the client's
    delayed ACK. TCP_NODELAY sends at once (gunicorn sets it itself)."""

    def __init__(self, sock, address, server, rfile=None):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # not a TCP socket (e.g. a Unix socket)
            pass
        super().__init__(sock, address, server, rfile)


class HeadTimeout(socket.timeout):
    """A client did not send a request's head within the server's header timeout."""


REQUEST_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


class DevHandler(NoDelayHandler):
    """NoDelayHandler with a deadline for each request's head (the server's
    `header_timeout`): a connection that has not sent it in time, a slow-header client
    or an idle keep-alive one, is closed (408 once part of the head came). The body
    and the response, a long-poll or a websocket, have no such deadline."""

    def handle_one_request(self):
        seconds = getattr(self.server, "header_timeout", None) or None
        self._head_deadline = gevent.Timeout.start_new(seconds, HeadTimeout)
        try:
            return super().handle_one_request()  # a timeout in the request line: closed
        finally:
            self._head_deadline.close()

    def read_request(self, raw_requestline):
        try:
            return super().read_request(raw_requestline)
        finally:
            self._head_deadline.close()

    def process_result(self):
        """Write the app's answer, unless a websocket has taken the connection over:
        simple-websocket wrote the 101 and every frame itself, and an HTTP answer after
        its close frame is what a browser reports as "Invalid frame header"."""
        if self._taken_over_by_websocket():
            self.close_connection = True
            return
        super().process_result()

    def _taken_over_by_websocket(self):
        # An upgrade request that the app answers 2xx: engine.io's answer once a
        # websocket session it accepted has ended (a refused one is 4xx and is written).
        upgrade = self.environ.get("HTTP_UPGRADE", "").lower() == "websocket"
        return upgrade and 200 <= (self.code or 0) < 300

    def _handle_client_error(self, ex):
        """pywsgi's hook for a request it could not read: a late head is a 408."""
        if isinstance(ex, HeadTimeout):
            return ("408", REQUEST_TIMEOUT)
        return super()._handle_client_error(ex)


def dev_server(address, app, header_timeout=None):
    """The development server: gevent's WSGI server without its own access log (the
    app logs requests as JSON), with TCP_NODELAY and a deadline for request heads
    (HEADER_TIMEOUT by default)."""
    if header_timeout is None:
        from shared.config import Config

        header_timeout = Config.HEADER_TIMEOUT
    server = gevent.pywsgi.WSGIServer(address, app, log=None, handler_class=DevHandler)
    server.header_timeout = header_timeout
    return server


def serve_forever(server, name, grace_seconds=None):
    """Serve with a gevent WSGIServer until SIGTERM/SIGINT, then stop gracefully
    (in-flight requests get GRACEFUL_TIMEOUT seconds, 20 by default)."""
    if grace_seconds is None:
        grace_seconds = float(os.environ.get("GRACEFUL_TIMEOUT") or 20)
    in_flight = server.application = InFlight(server.application)
    if server.pool is None:
        server.set_spawn(gevent.pool.Pool())  # so that `stop()` can end what is left
    stop = gevent.event.Event()
    gevent.signal_handler(signal.SIGTERM, stop.set)
    gevent.signal_handler(signal.SIGINT, stop.set)
    server.start()
    host, port = server.address[:2]
    print(f"{name} listening on http://{host}:{port}", flush=True)
    stop.wait()
    server.close()  # the listening socket: new connections are refused from here on
    in_flight.drain()
    begin_shutdown()
    in_flight.wait(grace_seconds)
    in_flight.refuse(timeout=INTERRUPT_SECONDS)
    server.stop(timeout=INTERRUPT_SECONDS)  # what is left: idle keep-alive connections
    close_resources()


# gunicorn server hooks, assigned in deploy/gunicorn_*.py.

def post_worker_init(worker):
    """Run the shutdown hooks as soon as a worker is told to stop (SIGTERM): gunicorn
    then stops accepting and waits up to `graceful_timeout` for busy connections,
    which a long-polling or websocket client would otherwise keep busy. Responses
    close their connection from then on; what still runs near the end of the grace
    period is answered 503 (InFlight)."""
    stop_worker = worker.handle_exit
    in_flight = worker.wsgi = InFlight(worker.wsgi)
    # Interrupted requests answer 503 before gunicorn's own end of grace kills them.
    interrupt_after = max(worker.cfg.graceful_timeout - INTERRUPT_SECONDS, 0)

    def handle_exit(sig, frame):
        stop_worker(sig, frame)
        if in_flight.draining:
            return
        in_flight.drain()
        gevent.spawn(begin_shutdown)  # not in the signal handler itself: hooks may block
        gevent.spawn_later(interrupt_after, in_flight.refuse, INTERRUPT_SECONDS)

    worker.handle_exit = handle_exit
    signal.signal(signal.SIGTERM, handle_exit)
    tune_gc()


def tune_gc():
    """The app is loaded: its objects (modules, schemas, routes) go to the permanent
    generation, out of every later full collection, and the young generation is
    collected less often, so fewer objects of requests in flight are promoted and
    full collections come far apart: with many sockets open, each one paused the
    worker long enough to show in push latencies (BENCHMARKS.md, "Garbage collection")."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def worker_exit(server, worker):
    close_resources()

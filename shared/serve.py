"""Serving under gunicorn, in development as in production: `serve()` (`python -m
auth_service`, `python -m realtime_service`) and the hooks of deploy/gunicorn_*.py.

On SIGTERM a worker:
1. stops accepting connections;
2. runs the `on_shutdown` hooks: the realtime service closes every Socket.IO
   connection (clients reconnect, through the gateway, to another process, and the
   disconnect handlers clean presence up);
3. closes the keep-alive connections that wait for their next request (as gunicorn's
   threaded worker does), and lets in-flight requests finish, for at most the grace
   period; their responses close their connection (`Connection: close`);
4. then refuses what still comes on an open connection, and interrupts what still runs,
   with a 503 `{"message"}` (never a 500, never a request killed half-way);
5. runs the `on_close` hooks and closes the Mongo clients (Redis clients register
   an `on_close` hook).

This module is imported by the gunicorn config files in the master process, before
the workers monkey-patch: keep its top-level imports to the standard library and gevent.
"""
import errno
import gc
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path

import gevent
from werkzeug.wsgi import ClosingIterator

log = logging.getLogger("ridewire.serve")
DEPLOY = Path(__file__).resolve().parent.parent / "deploy"

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


class Connections:
    """The greenlets serving the worker's client connections (wrapping the worker's
    `handle`), so that a stop can close the idle keep-alive ones at once rather than
    wait for their keep-alive timeout (a gateway keeps some open all the time)."""

    def __init__(self, handle):
        self.handle = handle
        self.open = set()

    def __call__(self, listener, client, address):
        greenlet = gevent.getcurrent()
        self.open.add(greenlet)
        try:
            return self.handle(listener, client, address)
        finally:
            self.open.discard(greenlet)

    def close_idle(self, busy):
        """End every connection whose greenlet handles no request (it waits for the
        next one) as a reset would: gunicorn closes it without a word."""
        idle = [greenlet for greenlet in self.open if greenlet not in busy]
        gevent.killall(idle, ConnectionResetError(errno.ECONNRESET, "closed: stopping"),
                       block=False)


def _refusal(start_response):
    """503 `{"message"}` without the app: the process is stopping."""
    from shared.errors import SHUTTING_DOWN

    body = json.dumps({"message": SHUTTING_DOWN}).encode()
    start_response("503 Service Unavailable", [
        ("Content-Type", "application/json"), ("Content-Length", str(len(body))),
        ("Retry-After", "1"), ("Connection", "close")])
    return [body]


# gunicorn server hooks, assigned in deploy/gunicorn_*.py.

def post_worker_init(worker):
    """Run the shutdown hooks as soon as a worker is told to stop (SIGTERM): gunicorn
    then stops accepting and waits up to `graceful_timeout` for busy connections,
    which a long-polling or websocket client would otherwise keep busy. Responses
    close their connection from then on; what still runs near the end of the grace
    period is answered 503 (InFlight)."""
    stop_worker = worker.handle_exit
    in_flight = worker.wsgi = InFlight(worker.wsgi)
    connections = worker.handle = Connections(worker.handle)
    # Interrupted requests answer 503 before gunicorn's own end of grace kills them.
    interrupt_after = max(worker.cfg.graceful_timeout - INTERRUPT_SECONDS, 0)

    def handle_exit(sig, frame):
        stop_worker(sig, frame)
        if in_flight.draining:
            return
        in_flight.drain()
        connections.close_idle(in_flight.busy)
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


def serve(name):
    """Run the `name` service ("auth", "realtime") under gunicorn with its production
    settings (deploy/gunicorn_<name>.py), in one worker process unless AUTH_WORKERS
    says otherwise, and say where it listens once it does."""
    from gunicorn.app.wsgiapp import WSGIApplication

    from shared.config import Config

    Config.check()  # a setting refused: its error, rather than a worker that fails to boot

    class Gunicorn(WSGIApplication):
        def load_config(self):
            super().load_config()
            bind = self.cfg.bind[0]
            self.cfg.set("when_ready", lambda _server: print(
                f"{name}_service listening on http://{bind}", flush=True))
            # gunicorn's start and stop lines: that line and `make run` say it all.
            self.cfg.logconfig_dict["loggers"]["gunicorn.error"]["level"] = "WARNING"

    os.environ.setdefault("AUTH_WORKERS", "1")
    sys.argv = [sys.argv[0], "-c", str(DEPLOY / f"gunicorn_{name}.py")]
    Gunicorn("%(prog)s").run()

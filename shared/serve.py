"""Graceful shutdown, for the development server and for gunicorn.

On SIGTERM (or SIGINT for the development server) a process:
1. stops accepting connections;
2. runs the `on_shutdown` hooks: the realtime service closes every Socket.IO
   connection (clients reconnect, through the gateway, to another process, and the
   disconnect handlers clean presence up);
3. lets in-flight requests finish, for at most the grace period;
4. runs the `on_close` hooks and closes the Mongo clients (Redis clients register
   an `on_close` hook).

This module is imported by the gunicorn config files in the master process, before
the workers monkey-patch: keep its top-level imports to the standard library and gevent.
"""
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
    closed), so that a stop can wait for those and not for idle keep-alive connections."""

    def __init__(self, app):
        self.app = app
        self.count = 0

    def __call__(self, environ, start_response):
        self.count += 1
        try:
            result = self.app(environ, start_response)
        except BaseException:
            self.count -= 1
            raise
        return ClosingIterator(result, self._done)

    def _done(self):
        self.count -= 1

    def wait(self, timeout):
        deadline = time.monotonic() + timeout
        while self.count > 0 and time.monotonic() < deadline:
            gevent.sleep(0.05)


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


def dev_server(address, app):
    """The development server: gevent's WSGI server without its own access log (the
    app logs requests as JSON) and with TCP_NODELAY."""
    return gevent.pywsgi.WSGIServer(address, app, log=None, handler_class=NoDelayHandler)


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
    begin_shutdown()
    in_flight.wait(grace_seconds)
    server.stop(timeout=1)  # what is left: idle keep-alive connections
    close_resources()


# gunicorn server hooks, assigned in deploy/gunicorn_*.py.

def post_worker_init(worker):
    """Run the shutdown hooks as soon as a worker is told to stop (SIGTERM): gunicorn
    then stops accepting and waits up to `graceful_timeout` for busy connections,
    which a long-polling or websocket client would otherwise keep busy."""
    stop_worker = worker.handle_exit

    def handle_exit(sig, frame):
        stop_worker(sig, frame)
        gevent.spawn(begin_shutdown)  # not in the signal handler itself: hooks may block

    worker.handle_exit = handle_exit
    signal.signal(signal.SIGTERM, handle_exit)


def worker_exit(server, worker):
    close_resources()

"""Run a gevent WSGI server until SIGTERM/SIGINT, then stop it gracefully."""
import signal

import gevent
import gevent.event


def serve_forever(server, name, grace_seconds=10):
    """Serve until a signal; in-flight requests get `grace_seconds` to finish."""
    stop = gevent.event.Event()
    gevent.signal_handler(signal.SIGTERM, stop.set)
    gevent.signal_handler(signal.SIGINT, stop.set)
    server.start()
    host, port = server.address[:2]
    print(f"{name} listening on http://{host}:{port}", flush=True)
    stop.wait()
    server.stop(timeout=grace_seconds)

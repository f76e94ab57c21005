"""Development server: `python -m auth_service` (gevent WSGI server)."""
from gevent import monkey

monkey.patch_all()

import socket  # noqa: E402

from gevent.pywsgi import WSGIHandler, WSGIServer  # noqa: E402

from auth_service.app import create_app  # noqa: E402
from shared.config import Config  # noqa: E402
from shared.serve import serve_forever  # noqa: E402


class NoDelayHandler(WSGIHandler):
    """pywsgi sends a response in several writes; with Nagle's algorithm on, every
    response after the first on a keep-alive connection waits ~40 ms for the client's
    delayed ACK. TCP_NODELAY sends at once."""

    def __init__(self, sock, address, server, rfile=None):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # not a TCP socket (e.g. a Unix socket)
            pass
        super().__init__(sock, address, server, rfile)


if __name__ == "__main__":
    app = create_app(Config)
    server = WSGIServer((Config.HOST, Config.AUTH_PORT), app, log=None,
                        handler_class=NoDelayHandler)
    serve_forever(server, "auth_service")

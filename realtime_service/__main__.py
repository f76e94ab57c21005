"""Development server: `python -m realtime_service` (gevent, websockets via simple-websocket).
SIGTERM or Ctrl-C stops it gracefully (shared/serve.py)."""
from gevent import monkey

monkey.patch_all()

from gevent.pywsgi import WSGIServer  # noqa: E402

from realtime_service.wsgi import production_app  # noqa: E402
from shared.config import Config  # noqa: E402
from shared.serve import serve_forever  # noqa: E402

if __name__ == "__main__":
    app = production_app(Config)
    server = WSGIServer((Config.HOST, Config.REALTIME_PORT), app, log=None)
    serve_forever(server, "realtime_service")

"""Development server: `python -m realtime_service` (gevent, websockets via simple-websocket).
SIGTERM or Ctrl-C stops it gracefully (shared/serve.py)."""
from gevent import monkey

monkey.patch_all()

from realtime_service.wsgi import production_app  # noqa: E402
from shared.config import Config  # noqa: E402
from shared.serve import dev_server, serve_forever  # noqa: E402

if __name__ == "__main__":
    app = production_app(Config)
    serve_forever(dev_server((Config.HOST, Config.REALTIME_PORT), app), "realtime_service")

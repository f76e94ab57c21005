"""Development server: `python -m auth_service` (gevent WSGI server).
SIGTERM or Ctrl-C stops it gracefully (shared/serve.py)."""
from gevent import monkey

monkey.patch_all()

from auth_service.app import create_app  # noqa: E402
from shared.config import Config  # noqa: E402
from shared.serve import dev_server, serve_forever  # noqa: E402

if __name__ == "__main__":
    app = create_app(Config)
    serve_forever(dev_server((Config.HOST, Config.AUTH_PORT), app), "auth_service")

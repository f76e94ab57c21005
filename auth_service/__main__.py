"""Development server: `python -m auth_service` (gevent WSGI server)."""
from gevent import monkey

monkey.patch_all()

from gevent.pywsgi import WSGIServer  # noqa: E402

from auth_service.app import create_app  # noqa: E402
from shared.config import Config  # noqa: E402
from shared.serve import serve_forever  # noqa: E402

if __name__ == "__main__":
    app = create_app(Config)
    serve_forever(WSGIServer((Config.HOST, Config.AUTH_PORT), app, log=None), "auth_service")

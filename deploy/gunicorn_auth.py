"""gunicorn settings of the auth service; everything an operator tunes comes from the
environment (README "Configuration").

    gunicorn -c deploy/gunicorn_auth.py

Several gevent workers per process: the service keeps no per-process state, and
bcrypt runs in each worker's thread pool, so workers use every core.
"""
import os

from shared.config import Config
from shared.logging import gunicorn_logconfig
from shared.serve import post_worker_init, worker_exit  # noqa: F401  (gunicorn hooks)

wsgi_app = "auth_service.app:create_app()"
bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('AUTH_PORT', '5001')}"
worker_class = "gevent"
workers = int(os.environ.get("AUTH_WORKERS") or os.cpu_count() or 2)
worker_connections = int(os.environ.get("WORKER_CONNECTIONS", "1000"))
# SIGTERM: stop accepting, give in-flight requests this long, then stop; responses
# close keep-alive connections meanwhile, and what still runs at the end is answered
# 503 (shared/serve.py).
graceful_timeout = int(os.environ.get("GRACEFUL_TIMEOUT", "20"))
timeout = 30
# With gevent workers the keep-alive timeout is also the deadline of every request's
# head, the first one's too (gunicorn's gevent.Timeout around its parser): slow-header
# clients are closed after HEADER_TIMEOUT seconds, sockets past their head are not.
keepalive = Config.HEADER_TIMEOUT
accesslog = None
control_socket_disable = True  # gunicorn 25+: several masters on one host would share it
logconfig_dict = gunicorn_logconfig(os.environ.get("LOG_LEVEL", "INFO"))
proc_name = "ridewire-auth"

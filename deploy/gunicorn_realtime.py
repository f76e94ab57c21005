"""gunicorn settings of the realtime service; everything an operator tunes comes from
the environment (README "Configuration").

    gunicorn -c deploy/gunicorn_realtime.py

Exactly one gevent worker per process: a Socket.IO session lives in the memory of
one worker, and gunicorn's load balancing across workers would break long-polling.
Scale with more processes (containers) behind the sticky gateway, with REDIS_URL
set so that they share pushes and presence. Websockets go through simple-websocket,
read by each connection's own greenlet (realtime_service/sockets/transport.py).
"""
import os

import gevent

from shared.config import Config
from shared.logging import gunicorn_logconfig
from shared.serve import post_worker_init, worker_exit  # noqa: F401  (gunicorn hooks)

# gevent records, for every greenlet, which greenlet spawned it and the spawning stack
# (ten frames): debugging aid only, about a kilobyte more per idle websocket (BENCHMARKS.md,
# scenario 12). GEVENT_TRACK_GREENLET_TREE=1 turns it back on.
if "GEVENT_TRACK_GREENLET_TREE" not in os.environ:
    gevent.config.track_greenlet_tree = False

wsgi_app = "realtime_service.wsgi:production_app()"
bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('REALTIME_PORT', '5002')}"
worker_class = "gevent"
workers = 1
# Headroom above the 10,000 sockets of the capacity benchmark: each socket also holds
# a connection slot while its handshake and upgrade requests are in flight.
worker_connections = int(os.environ.get("WORKER_CONNECTIONS", "12000"))
# SIGTERM: stop accepting, close every socket (clients reconnect elsewhere), give
# in-flight requests this long, then stop; responses close keep-alive connections
# meanwhile, and what still runs at the end is answered 503 (shared/serve.py).
graceful_timeout = int(os.environ.get("GRACEFUL_TIMEOUT", "20"))
timeout = 30
# With gevent workers the keep-alive timeout is also the deadline of every request's
# head, the first one's too (gunicorn's gevent.Timeout around its parser): slow-header
# clients are closed after HEADER_TIMEOUT seconds, sockets past their head are not.
keepalive = Config.HEADER_TIMEOUT
accesslog = None
control_socket_disable = True  # gunicorn 25+: several masters on one host would share it
logconfig_dict = gunicorn_logconfig(os.environ.get("LOG_LEVEL", "INFO"))
proc_name = "ridewire-realtime"

"""The realtime service as served in production and by `python -m realtime_service`:
the app, plus what a graceful stop must do for Socket.IO (see shared/serve.py).

    gunicorn -c deploy/gunicorn_realtime.py 'realtime_service.wsgi:production_app()'
"""
from realtime_service.app import create_app
from realtime_service.extensions import socketio
from realtime_service.maps import cities
from shared.config import Config
from shared.idempotency.decorator import release_held
from shared.logging import adopt_loggers
from shared.serve import on_close, on_shutdown


def disconnect_sockets():
    """Close every Engine.IO connection of this process. Clients see a transport close
    (not a Socket.IO disconnect), so they reconnect, to another process behind the
    gateway; the disconnect handlers run, so presence is cleaned up."""
    socketio.server.eio.disconnect()
    socketio.server.shutdown()


def close_backends(app):
    """Stop the background loops (revocation watcher, presence heartbeat, dispatch
    sweeper), then close the Redis clients; shared.serve closes Mongo after this."""
    sweeper = app.extensions.get("dispatch_sweeper")
    for task in app.extensions.get("realtime_tasks", []) + ([sweeper] if sweeper else []):
        task.kill()
    clients = [getattr(socketio.server.manager, "redis", None),
               getattr(app.extensions.get("presence"), "redis", None)]
    for client in filter(None, clients):
        client.close()


def production_app(config=Config):
    app = create_app(config)
    adopt_loggers("engineio.server", "socketio.server")
    on_shutdown(disconnect_sockets)
    on_close(lambda: close_backends(app))
    on_close(lambda: release_held(app))
    cities.warm(app)
    return app

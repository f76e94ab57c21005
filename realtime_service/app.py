"""The realtime service's app factory."""
from werkzeug.routing import Rule

from realtime_service import (
    compat_chat,
    compat_rides,
    console,
    maps,
    messages,
    notifier,
    presence,
    revocation,
    rides,
)
from realtime_service.extensions import socketio
from realtime_service.socket_doc import socketio_operations
from realtime_service.sockets import RealtimeNamespace, enforce_connect_timeout
from shared.cli import register_cli
from shared.config import Config
from shared.cors import socket_origin_check
from shared.http import make_app
from shared.jsonio import SocketJSON
from shared.ratelimit import init_ratelimit
from shared.tokens import init_tokens


def create_app(config=Config):
    app = make_app("realtime_service", config)
    init_tokens(app)
    init_ratelimit(app)
    socketio.init_app(
        app,
        # Always explicit: with eventlet installed and no async_mode, Flask-SocketIO
        # would silently pick eventlet (DESIGN.md).
        async_mode=app.config["SOCKETIO_ASYNC_MODE"],
        message_queue=app.config["REDIS_URL"],
        cors_allowed_origins=socket_origin_check(app),
        json=SocketJSON,
    )
    socketio.on_namespace(RealtimeNamespace("/"))
    enforce_connect_timeout(socketio.server, app.config["SOCKET_CONNECT_TIMEOUT"])
    presence.init_app(app)
    notifier.init_app(app)
    revocation.init_app(app)
    api = app.extensions["api"]
    for blueprint in (messages.bp, rides.bp, console.bp):
        api.register_blueprint(blueprint)
    if app.config["COMPAT_ROUTES"]:
        for blueprint in (compat_chat.bp, compat_rides.bp, maps.bp):
            api.register_blueprint(blueprint)
    # Engine.IO answers /socket.io/, not a Flask route: document it with a rule of its own.
    api.spec.path(rule=Rule("/socket.io/"), operations=socketio_operations(), parameters=[])
    register_cli(app)
    return app

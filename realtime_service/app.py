from flask_socketio import SocketIO

from realtime_service import console
from shared.cli import register_cli
from shared.config import Config
from shared.cors import socket_origin_check
from shared.http import make_app
from shared.tokens import init_tokens

socketio = SocketIO()


def create_app(config=Config):
    app = make_app("realtime_service", config)
    init_tokens(app)
    socketio.init_app(
        app,
        # Always explicit: with eventlet installed and no async_mode, Flask-SocketIO
        # would silently pick eventlet (DESIGN.md).
        async_mode=app.config["SOCKETIO_ASYNC_MODE"],
        message_queue=app.config["REDIS_URL"],
        cors_allowed_origins=socket_origin_check(app.config["CORS_ORIGINS"]),
    )
    # Socket event handlers register themselves on import.
    import realtime_service.events  # noqa: F401
    import realtime_service.locations  # noqa: F401  (update-location-captain)
    from realtime_service import messages, presence, revocation, rides

    presence.init_app(app)
    revocation.init_app(app)
    app.register_blueprint(messages.bp)
    app.register_blueprint(rides.bp)
    app.register_blueprint(console.bp)
    register_cli(app)
    return app

"""The realtime service's app factory: authenticated Socket.IO (presence, pushes,
revocation), and the rides (with the offer rounds' sweeper), chat, calls and maps
domains over HTTP and sockets."""
from importlib import import_module

from werkzeug.routing import Rule

from realtime_service.calls import call_history, calls
from realtime_service.calls.routes import call_routes
from realtime_service.chat import messages, read_marks
from realtime_service.chat.routes import chat_routes
from realtime_service.console.routes import console_enabled, console_routes
from realtime_service.extensions import socketio
from realtime_service.maps import map_cache, places
from realtime_service.maps.cli import import_places_command, seed_places_command
from realtime_service.rides import locations, rides, rounds
from realtime_service.rides.routes import ride_routes
from realtime_service.sockets import hooks, lean, notifier, presence, recovery, revocation
from realtime_service.sockets.admission import limit_addresses
from realtime_service.sockets.namespace import RealtimeNamespace, enforce_connect_timeout
from realtime_service.sockets.openapi import socketio_operations
from realtime_service.sockets.packet_limits import bounded_packet_class, init_packet_limits
from realtime_service.sockets.transport import init_transport
from shared.accounts import accounts, blacklist
from shared.accounts.tokens import init_tokens
from shared.cli import register_cli
from shared.config import Config
from shared.cors import socket_origin_check
from shared.http import make_app
from shared.idempotency import idempotency_keys
from shared.jsonio import SocketJSON
from shared.ratelimit import init_ratelimit

# Events only the latest of which matters: delivered to the sockets connected now, not
# kept for connection state recovery (Socket.IO's volatile events). A connection gets
# the online list anew when it comes back; kept, each copy (a few hundred KiB with
# thousands online) would push the recovery log's other events out.
VOLATILE_EVENTS = ("typing", "captain-location", "getOnlineUsers")
MODELS = (accounts, blacklist, rides, messages, read_marks, calls, call_history, places,
          map_cache, idempotency_keys)


def create_app(config=Config):
    app = make_app("realtime_service", config, MODELS)
    init_tokens(app)
    init_ratelimit(app)
    manager = recovery.client_manager(app.config, VOLATILE_EVENTS)
    socketio.init_app(
        app,
        # Always explicit: with eventlet installed and no async_mode, Flask-SocketIO
        # would silently pick eventlet.
        async_mode=app.config["SOCKETIO_ASYNC_MODE"],
        client_manager=manager,
        cors_allowed_origins=socket_origin_check(app),
        json=SocketJSON,
        max_http_buffer_size=app.config["SOCKET_MAX_MESSAGE_BYTES"],
        ping_interval=app.config["SOCKET_PING_INTERVAL"],
        ping_timeout=app.config["SOCKET_PING_TIMEOUT"],
        serializer=recovery.packet_class(
            bounded_packet_class(app.config["SOCKET_MAX_ATTACHMENTS"],
                                 app.config["SOCKET_MAX_BUFFERED_BYTES"]), manager),
    )
    init_packet_limits(socketio.server)
    init_transport(socketio.server, app.config["SOCKET_COMPRESSION"])
    recovery.read_handshakes(socketio.server)
    socketio.on_namespace(RealtimeNamespace("/", app))
    hooks.init_app(app)
    enforce_connect_timeout(socketio.server, app.config["SOCKET_CONNECT_TIMEOUT"])
    limit_addresses(app, socketio.server)
    presence.init_app(app)
    locations.init_app(app)
    notifier.init_app(app)
    revocation.init_app(app)
    lean.init_app(app)
    rounds.init_app(app)
    api = app.extensions["api"]
    for blueprint in (chat_routes, ride_routes, call_routes):
        api.register_blueprint(blueprint)
    if console_enabled(app.config):
        api.register_blueprint(console_routes)
    if app.config["COMPAT_ROUTES"]:
        import_module("compat").init_realtime(app)
    # Engine.IO answers /socket.io/, not a Flask route: document it with a rule of its own.
    api.spec.path(rule=Rule("/socket.io/"), operations=socketio_operations(), parameters=[])
    register_cli(app, seed_places_command, import_places_command)
    return app

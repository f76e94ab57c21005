"""Configuration read from the environment (and a `.env` file), with safe local defaults.

Every variable is documented in docs/configuration.md. `Config` is read once at import; the
test suite subclasses it (`TestingConfig`) and overrides what it needs.
"""
import json
import os

from dotenv import load_dotenv

from shared.dev_secret import dev_secret
from shared.embedded import EMBEDDED_URI_OPTIONS

load_dotenv()

DEFAULT_JWT_SECRET = "dev-insecure-secret-change-me-in-production"
DEFAULT_CORS_ORIGINS = (
    "http://localhost:3000,http://localhost:5173,http://127.0.0.1:3000,http://127.0.0.1:5173"
)
DEFAULT_FARES = {
    "auto": {"base": 30, "perKm": 10, "perMin": 2, "minimum": 50, "speedKmh": 25},
    "car": {"base": 50, "perKm": 15, "perMin": 3, "minimum": 80, "speedKmh": 30},
    "motorcycle": {"base": 20, "perKm": 8, "perMin": 1.5, "minimum": 40, "speedKmh": 35},
}


def env_str(name, default=None):
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_int(name, default):
    return int(env_str(name, default))


def env_float(name, default):
    return float(env_str(name, default))


def env_flag(name):
    """True or False when the variable is `true` or `false` (any case), else None."""
    value = env_str(name)
    return None if value is None else value.lower() == "true"


def env_list(name, default):
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


class DevelopmentSecret:
    """JWT_SECRET_KEY when the environment sets none: the public DEFAULT_JWT_SECRET for
    the tests and for production (whose check refuses it), else the random secret of
    the data directory (shared/dev_secret.py), read when first asked for."""

    def __get__(self, instance, owner):
        if owner.APP_ENV in ("testing", "production"):
            return DEFAULT_JWT_SECRET
        return dev_secret(owner.DATA_DIR)


class Config:
    APP_ENV = env_str("APP_ENV", "development")
    LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
    HOST = env_str("HOST", "127.0.0.1")
    AUTH_PORT = env_int("AUTH_PORT", 5001)
    REALTIME_PORT = env_int("REALTIME_PORT", 5002)
    DB_PORT = env_int("DB_PORT", 27018)
    # The embedded database's data (`make run`); the development JWT secret is kept beside.
    DATA_DIR = env_str("DATA_DIR", ".data/db")
    # `make run`'s gateway: one origin for frontends (devserver/gateway.py), optionally
    # serving a built frontend's folder at its root.
    GATEWAY_PORT = env_int("GATEWAY_PORT", 5000)
    FRONTEND_DIR = env_str("FRONTEND_DIR")

    MONGO_URI = env_str(
        "MONGO_URI", f"mongodb://127.0.0.1:{DB_PORT}/ridewire?{EMBEDDED_URI_OPTIONS}")
    # Fail a request in about 2 s (503) instead of hanging when Mongo is away.
    MONGO_TIMEOUT_MS = env_int("MONGO_TIMEOUT_MS", 2000)
    REDIS_URL = env_str("REDIS_URL")
    # Proxies in front of the services that set X-Forwarded-For (1 behind the gateway).
    TRUSTED_PROXY_HOPS = env_int("TRUSTED_PROXY_HOPS", 0)

    JWT_SECRET_KEY = env_str("JWT_SECRET_KEY") or DevelopmentSecret()
    USER_TOKEN_TTL = env_int("USER_TOKEN_TTL", 7 * 24 * 3600)
    CAPTAIN_TOKEN_TTL = env_int("CAPTAIN_TOKEN_TTL", 24 * 3600)
    REFRESH_TOKEN_TTL = env_int("REFRESH_TOKEN_TTL", 30 * 24 * 3600)
    BCRYPT_ROUNDS = env_int("BCRYPT_ROUNDS", 12)
    BCRYPT_MAX_CONCURRENCY = env_int("BCRYPT_MAX_CONCURRENCY", os.cpu_count() or 2)

    # By default also the browser console that the realtime service serves at `/`.
    CORS_ORIGINS = env_list("CORS_ORIGINS", f"{DEFAULT_CORS_ORIGINS},http://localhost:"
                            f"{REALTIME_PORT},http://127.0.0.1:{REALTIME_PORT}")
    RATELIMIT_ENABLED = env_str("RATELIMIT_ENABLED", "true").lower() == "true"
    LOGIN_RATE_LIMIT = env_str("LOGIN_RATE_LIMIT", "10 per minute")
    # The longer window on top of LOGIN_RATE_LIMIT on every password route (the back-off).
    LOGIN_LONG_RATE_LIMIT = env_str("LOGIN_LONG_RATE_LIMIT", "100 per hour")
    # Seconds an address that logged in stays exempt from its account's password limit.
    KNOWN_ADDRESS_TTL = env_int("KNOWN_ADDRESS_TTL", 30 * 24 * 3600)
    REGISTER_RATE_LIMIT = env_str("REGISTER_RATE_LIMIT", "10 per minute")
    REFRESH_RATE_LIMIT = env_str("REFRESH_RATE_LIMIT", "30 per minute")
    # Per account: POST /rides and /rides/create; every chat send; every socket event.
    RIDE_REQUEST_RATE_LIMIT = env_str("RIDE_REQUEST_RATE_LIMIT", "10 per minute")
    CHAT_SEND_RATE_LIMIT = env_str("CHAT_SEND_RATE_LIMIT", "60 per minute")
    # Group commit of chat sends: how long the first send of a batch waits for others
    # (0: it only yields once), and the most messages one write stores (0: each alone).
    CHAT_COMMIT_WINDOW_MS = env_float("CHAT_COMMIT_WINDOW_MS", 0.0)
    CHAT_COMMIT_MAX = env_int("CHAT_COMMIT_MAX", 200)
    # Per socket, on top of SOCKET_EVENT_RATE_LIMIT: the chat's `typing` events.
    CHAT_TYPING_RATE_LIMIT = env_str("CHAT_TYPING_RATE_LIMIT", "10 per 10 seconds")
    # Per account: profile changes (each may decode a 5 MiB image), every profile route.
    PROFILE_UPDATE_RATE_LIMIT = env_str("PROFILE_UPDATE_RATE_LIMIT", "10 per minute")
    # Per account: POST /users/activity and /captains/activity; what the history keeps.
    ACTIVITY_RATE_LIMIT = env_str("ACTIVITY_RATE_LIMIT", "30 per minute")
    ACTIVITY_CLIENT_MAX = env_int("ACTIVITY_CLIENT_MAX", 200)  # client entries per account
    ACTIVITY_RETENTION_DAYS = env_int("ACTIVITY_RETENTION_DAYS", 90)  # every entry; 0: for ever
    SOCKET_EVENT_RATE_LIMIT = env_str("SOCKET_EVENT_RATE_LIMIT", "120 per minute")
    # Seconds a connection has to send a request's head (every server: slow-header clients).
    HEADER_TIMEOUT = env_int("HEADER_TIMEOUT", 10)

    MAX_CONTENT_LENGTH = env_int("MAX_CONTENT_LENGTH", 1024 * 1024)
    MAX_IMAGE_BODY_LENGTH = env_int("MAX_IMAGE_BODY_LENGTH", 5 * 1024 * 1024)
    # Images (shared/media/service.py): per account, profile pictures and chat images
    # together; a decoded size over this many times the file's is refused; decoded in
    # IMAGE_WORKERS processes per serving process, with IMAGE_QUEUE more jobs waiting.
    IMAGE_UPLOAD_RATE_LIMIT = env_str("IMAGE_UPLOAD_RATE_LIMIT", "5 per minute;50 per hour")
    IMAGE_MAX_COMPRESSION_RATIO = env_int("IMAGE_MAX_COMPRESSION_RATIO", 200)
    IMAGE_WORKERS = env_int("IMAGE_WORKERS", 1)
    IMAGE_QUEUE = env_int("IMAGE_QUEUE", 4)

    # `make run`'s demo accounts (random passwords, never with APP_ENV=production); unset:
    # with the embedded database only, true: an empty MONGO_URI database too, false: never.
    SEED_DEMO = env_flag("SEED_DEMO")

    # The browser console at `/` and `/console/` (realtime_service/console/routes.py);
    # unset: on except with APP_ENV=production.
    CONSOLE_ENABLED = env_flag("CONSOLE_ENABLED")

    # Load the compatibility layer (compat/: the routes, shapes and socket rules of the
    # frontends of docs/compat.md); off: the native API only.
    COMPAT_ROUTES = env_str("COMPAT_ROUTES", "true").lower() == "true"
    # The public origin (e.g. https://chat.example.com): media URLs in the compat chat
    # answers become absolute for frontends on another origin. Unset: relative /media/<id>.
    PUBLIC_URL = (env_str("PUBLIC_URL") or "").rstrip("/") or None

    # Seconds an Engine.IO connection may stay without joining the Socket.IO namespace.
    SOCKET_CONNECT_TIMEOUT = env_float("SOCKET_CONNECT_TIMEOUT", 45.0)
    # Engine.IO's heartbeat (Socket.IO's pingInterval and pingTimeout, in seconds): a
    # ping every interval; a client that has not answered within the timeout is gone.
    SOCKET_PING_INTERVAL = env_float("SOCKET_PING_INTERVAL", 25.0)
    SOCKET_PING_TIMEOUT = env_float("SOCKET_PING_TIMEOUT", 20.0)
    # permessage-deflate on websockets whose client offers it (browsers do): off, as in
    # Socket.IO's own server; each compressing socket holds zlib state (~90 KiB of RSS).
    SOCKET_COMPRESSION = env_flag("SOCKET_COMPRESSION")
    # What one connection can make the process buffer (realtime_service/sockets/packet_limits.py):
    # a message (websocket or long-polling body), a binary packet's attachments.
    SOCKET_MAX_MESSAGE_BYTES = env_int("SOCKET_MAX_MESSAGE_BYTES", 64 * 1024)
    SOCKET_MAX_ATTACHMENTS = env_int("SOCKET_MAX_ATTACHMENTS", 10)
    SOCKET_MAX_BUFFERED_BYTES = env_int("SOCKET_MAX_BUFFERED_BYTES", 256 * 1024)
    # Who may hold a socket (realtime_service/sockets/admission.py), counted per process;
    # 0: no cap. Seconds an anonymous socket (the gateway's page, no token) is kept.
    SOCKET_MAX_PER_ACCOUNT = env_int("SOCKET_MAX_PER_ACCOUNT", 10)
    SOCKET_MAX_PER_ADDRESS = env_int("SOCKET_MAX_PER_ADDRESS", 50)
    ANONYMOUS_SOCKET_SECONDS = env_float("ANONYMOUS_SOCKET_SECONDS", 60.0)
    SOCKETIO_ASYNC_MODE = env_str("SOCKETIO_ASYNC_MODE", "gevent")
    # Connection state recovery (realtime_service/sockets/recovery.py): how long a dropped
    # socket's session and the packets it may miss are kept, and the log's bounds (the
    # bytes bound applies to the in-memory log; Redis trims by count and age).
    RECOVERY_WINDOW_SECONDS = env_float("RECOVERY_WINDOW_SECONDS", 120.0)
    RECOVERY_MAX_PACKETS = env_int("RECOVERY_MAX_PACKETS", 20000)
    RECOVERY_MAX_BYTES = env_int("RECOVERY_MAX_BYTES", 32 * 1024 * 1024)
    # A socket with this many packets waiting to be written (a client that does not
    # read) is closed; it recovers what it missed when it comes back.
    SOCKET_MAX_QUEUED_PACKETS = env_int("SOCKET_MAX_QUEUED_PACKETS", 1000)
    PRESENCE_EVENTS = env_str("PRESENCE_EVENTS", "compat")  # compat | delta
    # The bound on how long a token revoked in one process is still taken by another
    # (shared/accounts/revocations.py), and of the realtime service's revoked-socket watch.
    REVOCATION_POLL_SECONDS = env_float("REVOCATION_POLL_SECONDS", 0.5)
    # The full getOnlineUsers list goes to every user at most once per this many seconds
    # (the last change of a window is announced at its end); 0: on every change.
    PRESENCE_ANNOUNCE_SECONDS = env_float("PRESENCE_ANNOUNCE_SECONDS", 0.25)
    # An account whose last socket dropped (and may be recovered) is announced offline
    # only if it is not back within this many seconds; 0: at once.
    PRESENCE_GRACE_SECONDS = env_float("PRESENCE_GRACE_SECONDS", 5.0)

    # Dispatch (realtime_service/rides/rounds.py): a ride is offered in rounds to the
    # DISPATCH_BATCH best of the DISPATCH_MAX nearest eligible captains, within
    # DISPATCH_RADIUS_KM, then DISPATCH_RADIUS_KM_MAX once no one is left nearer; a round
    # lasts OFFER_SECONDS (so does a wait when no captain is left), the search
    # DISPATCH_TIMEOUT_SECONDS. The sweeper looks for expired rounds and waits every
    # DISPATCH_SWEEP_SECONDS (0: not in this process). A captain silent for
    # LOCATION_STALE_SECONDS is not offered rides; a road travel time from the router is
    # kept DISPATCH_RANK_CACHE_SECONDS.
    DISPATCH_RADIUS_KM = env_float("DISPATCH_RADIUS_KM", 3.0)
    DISPATCH_RADIUS_KM_MAX = env_float("DISPATCH_RADIUS_KM_MAX", 6.0)
    DISPATCH_BATCH = env_int("DISPATCH_BATCH", 3)
    DISPATCH_MAX = env_int("DISPATCH_MAX", 20)
    OFFER_SECONDS = env_float("OFFER_SECONDS", 15.0)
    DISPATCH_TIMEOUT_SECONDS = env_float("DISPATCH_TIMEOUT_SECONDS", 120.0)
    DISPATCH_SWEEP_SECONDS = env_float("DISPATCH_SWEEP_SECONDS", 1.0)
    LOCATION_STALE_SECONDS = env_float("LOCATION_STALE_SECONDS", 60.0)
    DISPATCH_RANK_CACHE_SECONDS = env_float("DISPATCH_RANK_CACHE_SECONDS", 30.0)
    # Live captain positions (realtime_service/rides/captain_index.py, locations.py):
    # MongoDB gets a captain's position at most once per LOCATION_PERSIST_SECONDS (and
    # on every change of its ride); a captain may send LOCATION_MAX_PER_SECOND updates
    # (bursts of LOCATION_BURST), the excess is dropped (0: no limit).
    LOCATION_PERSIST_SECONDS = env_float("LOCATION_PERSIST_SECONDS", 30.0)
    LOCATION_MAX_PER_SECOND = env_float("LOCATION_MAX_PER_SECOND", 2.0)
    LOCATION_BURST = env_int("LOCATION_BURST", 5)
    ROAD_FACTOR = env_float("ROAD_FACTOR", 1.3)
    FARES = json.loads(env_str("FARES_JSON", json.dumps(DEFAULT_FARES)))
    ROUTING_URL = env_str("ROUTING_URL")  # an OSRM URL: the same as ROUTER=osrm + ROUTER_URL

    # Maps (realtime_service/maps/service.py). No GEOCODER: the embedded gazetteer (`flask
    # seed-places`); no ROUTER: the great-circle estimate. Keys stay server-side.
    GEOCODER = env_str("GEOCODER")  # a geopy service: nominatim, photon, google, pelias, ...
    GEOCODER_URL = env_str("GEOCODER_URL")  # e.g. http://127.0.0.1:8080 (self-hosted)
    GEOCODER_API_KEY = env_str("GEOCODER_API_KEY")
    GEOCODER_USER_AGENT = env_str("GEOCODER_USER_AGENT", "ridewire")
    ROUTER = env_str("ROUTER")  # a routingpy router: osrm, graphhopper, valhalla, google, ...
    ROUTER_URL = env_str("ROUTER_URL")
    ROUTER_API_KEY = env_str("ROUTER_API_KEY")
    ROUTER_PROFILE = env_str("ROUTER_PROFILE")  # default: the router's car profile
    MAPS_TIMEOUT_S = env_float("MAPS_TIMEOUT_S", 2.0)
    MAPS_CACHE_TTL = env_int("MAPS_CACHE_TTL", 24 * 3600)  # seconds a provider answer is kept
    MAPS_RATE_LIMIT = env_str("MAPS_RATE_LIMIT", "60 per minute")  # per account, all /maps
    PLACES_MIN_POPULATION = env_int("PLACES_MIN_POPULATION", 15000)  # 500, 1000, 5000, 15000
    PLACES_COUNTRIES = env_list("PLACES_COUNTRIES", "")  # ISO codes to seed; empty: all

    # Calls (realtime_service/calls/): WebRTC signaling, the room's limits, ICE servers.
    CALL_MAX_PARTICIPANTS = env_int("CALL_MAX_PARTICIPANTS", 6)  # members of one room
    CALL_SIGNAL_MAX_BYTES = env_int("CALL_SIGNAL_MAX_BYTES", 64 * 1024)  # one signal's data
    # Per socket, on top of SOCKET_EVENT_RATE_LIMIT: the signals one connection may relay.
    CALL_SIGNAL_RATE_LIMIT = env_str("CALL_SIGNAL_RATE_LIMIT", "100 per 10 seconds")
    CALL_CHAT_HISTORY = env_int("CALL_CHAT_HISTORY", 50)  # in-call messages kept per room
    # Guests (sockets without an account) in meetings that name members by socket (the
    # compat video meetings); on unless APP_ENV=production. Their joins per address:
    CALL_GUESTS = env_str("CALL_GUESTS", str(APP_ENV != "production")).lower() == "true"
    CALL_GUEST_RATE_LIMIT = env_str("CALL_GUEST_RATE_LIMIT", "20 per minute")
    STUN_URLS = env_list("STUN_URLS", "")  # e.g. stun:turn.example.com:3478
    TURN_URLS = env_list("TURN_URLS", "")  # e.g. turn:turn.example.com:3478?transport=udp
    TURN_SECRET = env_str("TURN_SECRET")  # coturn's static-auth-secret (use-auth-secret)
    TURN_TTL_SECONDS = env_int("TURN_TTL_SECONDS", 3600)  # lifetime of TURN credentials

    @classmethod
    def check(cls):
        """Refuse settings that are unsafe in production, or that contradict each other."""
        if cls.APP_ENV == "production":
            if cls.JWT_SECRET_KEY == DEFAULT_JWT_SECRET or len(cls.JWT_SECRET_KEY) < 32:
                raise RuntimeError(
                    "JWT_SECRET_KEY must be set to a random value of 32+ characters "
                    "when APP_ENV=production"
                )
            if "*" in cls.CORS_ORIGINS:
                raise RuntimeError("CORS_ORIGINS='*' is not allowed when APP_ENV=production")
        if cls.TURN_URLS and not cls.TURN_SECRET:
            raise RuntimeError("TURN_URLS needs TURN_SECRET (coturn's static-auth-secret)")
        if cls.DISPATCH_RADIUS_KM_MAX < cls.DISPATCH_RADIUS_KM:
            raise RuntimeError("DISPATCH_RADIUS_KM_MAX must be at least DISPATCH_RADIUS_KM")
        if cls.DISPATCH_BATCH < 1 or cls.OFFER_SECONDS <= 0:
            raise RuntimeError("DISPATCH_BATCH must be 1 or more and OFFER_SECONDS positive")
        if cls.SOCKET_PING_INTERVAL < 1 or cls.SOCKET_PING_TIMEOUT < 1:
            raise RuntimeError("SOCKET_PING_INTERVAL and SOCKET_PING_TIMEOUT must be 1 or more")


class TestingConfig(Config):
    APP_ENV = "testing"
    TESTING = True
    BCRYPT_ROUNDS = 4
    RATELIMIT_ENABLED = False
    MONGO_TIMEOUT_MS = 1000

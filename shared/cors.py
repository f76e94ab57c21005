"""CORS from CORS_ORIGINS: flask-cors for HTTP routes, an origin check for the
Socket.IO handshake (which the HTTP middleware does not cover)."""
from urllib.parse import urlsplit

# What every answer allows and shows a cross-origin page: the services' (flask-cors),
# make run's gateway's own answers and deploy/nginx.conf's (tests/system/test_devgateway.py).
ALLOW_HEADERS = ("Authorization", "Content-Type", "token", "X-Request-ID", "X-Socket-ID",
                 "Idempotency-Key")
EXPOSE_HEADERS = ("Retry-After", "X-Request-ID", "Idempotent-Replayed")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def enable_cors(app):
    """Every HTTP route, with credentials (the `token` cookie) unless the list is `*`,
    which browsers never accept together with credentials."""
    origins = app.config["CORS_ORIGINS"]
    # Imported here: make run's gateway reads the lists above before gevent patches ssl,
    # and the extensions module imports pymongo and PyJWT, which load ssl.
    from shared.extensions import cors

    wildcard = "*" in origins
    cors.init_app(
        app,
        origins="*" if wildcard else origins,
        send_wildcard=wildcard,
        supports_credentials=not wildcard,
        allow_headers=list(ALLOW_HEADERS),
        expose_headers=list(EXPOSE_HEADERS),
        methods=list(METHODS),
        max_age=600,
        always_send=False,  # no Origin, no CORS: nothing to tell a non-browser client
    )


# The config key of each service's own port (pages it serves itself, e.g. the console).
SERVICE_PORTS = {"auth_service": "AUTH_PORT", "realtime_service": "REALTIME_PORT"}
LOCAL_HOSTS = ("localhost", "127.0.0.1")


def own_origins(app):
    """The origins of the pages this deployment serves itself, from configuration only
    (never from the request's Host or X-Forwarded-Host, which any client writes):
    PUBLIC_URL when it is set, else `make run`'s gateway and this service on this
    machine."""
    config = app.config
    if config.get("PUBLIC_URL"):
        url = urlsplit(config["PUBLIC_URL"])
        return frozenset({f"{url.scheme}://{url.netloc}"})
    ports = {config.get("GATEWAY_PORT"), config.get(SERVICE_PORTS.get(app.name, ""))}
    return frozenset(f"http://{host}:{port}" for host in LOCAL_HOSTS
                     for port in ports if port)


def trusted_origins(app):
    """The origins whose pages may use the cookie: CORS_ORIGINS (but not `*`, which
    allows reading answers without credentials) and our own."""
    return own_origins(app) | (set(app.config["CORS_ORIGINS"]) - {"*"})


def socket_origin_check(app):
    """`cors_allowed_origins` for Flask-SocketIO: the configured origins plus the
    service's own (`own_origins`), or any with `*`, or a page that the browser itself
    says is of the same origin (Fetch Metadata, which no page can forge); a handshake
    without an Origin header (not a browser) is not subject to CORS."""
    allowed = trusted_origins(app)
    wildcard = "*" in app.config["CORS_ORIGINS"]

    def is_allowed(origin, environ):
        return (wildcard or origin in allowed
                or environ.get("HTTP_SEC_FETCH_SITE") == "same-origin")

    return is_allowed

"""CORS from CORS_ORIGINS: flask-cors for HTTP routes, an origin check for the
Socket.IO handshake (which the HTTP middleware does not cover)."""
from shared.extensions import cors


def enable_cors(app):
    """Every HTTP route, with credentials (the `token` cookie) unless the list is `*`,
    which browsers never accept together with credentials."""
    origins = app.config["CORS_ORIGINS"]
    wildcard = "*" in origins
    cors.init_app(
        app,
        origins="*" if wildcard else origins,
        send_wildcard=wildcard,
        supports_credentials=not wildcard,
        allow_headers=["Authorization", "Content-Type", "token", "X-Request-ID", "X-Socket-ID"],
        expose_headers=["Retry-After", "X-Request-ID"],
        methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        max_age=600,
    )


def own_origins(environ):
    """The origins a page served by this very host has (directly or behind a proxy)."""
    host = environ.get("HTTP_X_FORWARDED_HOST", environ.get("HTTP_HOST", "")).split(",")[0]
    scheme = environ.get("HTTP_X_FORWARDED_PROTO", environ.get("wsgi.url_scheme", "http"))
    return {f"{scheme.split(',')[0].strip()}://{host.strip()}",
            f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"}


def socket_origin_check(origins):
    """`cors_allowed_origins` for Flask-SocketIO: the configured origins plus the
    service's own origin (pages it serves itself); a handshake without an Origin
    header (not a browser) is not subject to CORS."""
    allowed = set(origins)

    def is_allowed(origin, environ):
        return "*" in allowed or origin in allowed or origin in own_origins(environ)

    return is_allowed

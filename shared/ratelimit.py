"""Rate limits (flask-limiter): per client IP, per email on credential routes, and per
account on routes that spend a provider's quota (the maps routes).

Counters live in memory, or in Redis when REDIS_URL is set (shared by every worker).
RATELIMIT_ENABLED=false turns them off (the test default). A limited request gets
429 `{"message"}` with `Retry-After`.

    @bp.post("/login")
    @limit_per_ip_and_email("LOGIN_RATE_LIMIT")
    def login(): ...
"""
from flask import current_app, request
from flask_jwt_extended import get_jwt
from flask_limiter.util import get_remote_address

from shared.extensions import limiter


def init_ratelimit(app):
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    app.config.setdefault("RATELIMIT_STRATEGY", "moving-window")
    limiter.init_app(app)


def email_key():
    """The (lower-cased) email of the JSON body, or the client IP when there is none."""
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # a deeply nested body: the route itself answers 400
        data = None
    email = data.get("email") if isinstance(data, dict) else None
    if isinstance(email, str) and email.strip():
        return "email:" + email.strip().lower()
    return "ip:" + get_remote_address()


def _setting(name):
    return lambda: current_app.config[name]


def limit_per_ip(setting):
    """The limit named by config key `setting` (e.g. "10 per minute"), per client IP."""
    return limiter.limit(_setting(setting))


def limit_per_ip_and_email(setting):
    """The limit per client IP and, separately, per email of the request body."""
    per_ip = limiter.limit(_setting(setting))
    per_email = limiter.limit(_setting(setting), key_func=email_key, scope="email")

    def decorator(view):
        return per_ip(per_email(view))

    return decorator


def account_key():
    """The account of the request's (already checked) token, or the client IP without one."""
    try:
        claims = get_jwt()
    except RuntimeError:  # no token was checked for this request
        claims = {}
    if claims.get("sub"):
        return f"account:{claims.get('role')}:{claims['sub']}"
    return "ip:" + get_remote_address()


def limit_per_account(setting, scope):
    """The limit named by config key `setting`, per account, shared by every route
    decorated with the same `scope`. Goes below `auth_required`, which checks the token
    before the limit is counted."""
    return limiter.shared_limit(_setting(setting), scope=scope, key_func=account_key)

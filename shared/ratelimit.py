"""Rate limits (flask-limiter): per client IP, per email on credential routes, per
account on routes that spend a provider's quota (`limit_maps`: every route that may
geocode or route), the password limits of every route that checks a password, and
budgets that a service spends itself (`spend_or_refuse`: the images an account
stores, whichever route takes them).

Counters live in memory (shared.limits_memory), or in Redis when REDIS_URL is set
(shared by every worker).
RATELIMIT_ENABLED=false turns them off (the test default). A limited request gets
429 `{"message"}` with `Retry-After`. Every limit is a route's decorator (no default
or application limit), so flask-limiter's check before every request is skipped
(`skipped_app_wide_check`) unless flask-limiter's own settings configure such a limit.

    @bp.post("/login")
    @limit_login(Role.USER)
    def login(): ...

Password limits (OWASP ASVS 2.2.1): LOGIN_RATE_LIMIT and LOGIN_LONG_RATE_LIMIT per
client address on each route, and per account across all of its password routes for
the addresses that never proved its password (shared.accounts.throttle), so guesses
from elsewhere cannot lock the owner out; a password change is limited per account
(its tokens) from every address too. Each attempt is counted before the bcrypt check.
"""
import time

from flask import current_app, g, request
from flask_limiter.util import get_remote_address
from limits import parse_many

from shared import limits_memory
from shared.accounts import throttle
from shared.accounts.tokens import current_account, current_claims
from shared.errors import TooManyRequests
from shared.extensions import limiter

PASSWORD_LIMITS = ("LOGIN_RATE_LIMIT", "LOGIN_LONG_RATE_LIMIT")
# flask-limiter settings of limits that its before-request check applies to every route.
APP_WIDE_LIMITS = ("RATELIMIT_DEFAULT", "RATELIMIT_APPLICATION", "RATELIMIT_META")
PAST_APP_WIDE_CHECK = "ridewire.past_app_wide_limits"  # in the request's environ
SKIPS_APP_WIDE_CHECK = "ratelimit_skips_app_wide_check"


def init_ratelimit(app):
    app.config.setdefault("RATELIMIT_STORAGE_URI",
                          app.config.get("REDIS_URL") or f"{limits_memory.SCHEME}://")
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    app.config.setdefault("RATELIMIT_STRATEGY", "moving-window")
    limiter.init_app(app)
    app.extensions[SKIPS_APP_WIDE_CHECK] = not any(app.config.get(name)
                                                   for name in APP_WIDE_LIMITS)
    # Registered right after flask-limiter's before-request check, so it runs next.
    app.before_request(lambda: request.environ.__setitem__(PAST_APP_WIDE_CHECK, True))


@limiter.request_filter
def skipped_app_wide_check():
    """Exempts flask-limiter's before-request check (not yet past it) in an app without
    app-wide limits: every limit here is a route's decorator, which checks its own, so
    that check has nothing to count, yet resolves every request's limits."""
    return (current_app.extensions[SKIPS_APP_WIDE_CHECK]
            and PAST_APP_WIDE_CHECK not in request.environ)


def body_email():
    """The (trimmed, lower-cased) email of the JSON body, or None."""
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # a deeply nested body: the route itself answers 400
        data = None
    return throttle.normal_email(data.get("email") if isinstance(data, dict) else None)


def email_key():
    """The email of the JSON body, or the client IP when there is none."""
    email = body_email()
    return "email:" + email if email else "ip:" + get_remote_address()


def _setting(*names):
    """The limits named by config keys `names`, read per request ("a;b" is both)."""
    return lambda: ";".join(current_app.config[name] for name in names)


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
        claims = current_claims()
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


MAPS_SCOPE = "maps"


def limit_maps(view):
    """MAPS_RATE_LIMIT per account, one budget shared by every route that may ask a
    maps provider (geocoder or router, paid per request). Goes below `auth_required`."""
    return limit_per_account("MAPS_RATE_LIMIT", MAPS_SCOPE)(view)


def spend_or_refuse(setting, scope, key, message):
    """Count one unit of `key`'s budget under the limit named by config key `setting`
    (in `scope`, in the limits' storage), from a service rather than a route: 429
    `message` with Retry-After when it is spent."""
    if not current_app.config.get("RATELIMIT_ENABLED") or not limiter.enabled:
        return
    strategy = limiter.limiter
    for item in parse_many(current_app.config[setting]):
        if not strategy.hit(item, scope, key):
            reset = strategy.get_window_stats(item, scope, key).reset_time
            retry_after = max(1, int(reset - time.time()) + 1)
            raise TooManyRequests(message, headers={"Retry-After": str(retry_after)})


def _per_unknown_address(role, email):
    """The password limits of account (`role`, `email()`), shared by its password routes
    and counted only for client addresses that never proved its password."""
    def key():
        return "email:" + email() if email() else "ip:" + get_remote_address()

    return limiter.shared_limit(
        _setting(*PASSWORD_LIMITS), scope=f"password:{role}", key_func=key,
        exempt_when=lambda: _known_address(role, email()))


def _known_address(role, email):
    """Whether the client address proved the account's password (once per request)."""
    known = g.setdefault("known_addresses", {})
    key = (role, email, get_remote_address())
    if key not in known:
        known[key] = throttle.is_known(*key)
    return known[key]


def _stack(*limits):
    def decorator(view):
        for limit in reversed(limits):
            view = limit(view)
        return view

    return decorator


def limit_login(role, email=body_email):
    """The password limits of a login route of `role`: per client IP on this route, per
    account (`email()`: the body's email by default) for unknown addresses."""
    return _stack(limiter.limit(_setting(*PASSWORD_LIMITS)),
                  _per_unknown_address(role, email))


def limit_password_change(role):
    """The password limits of a password change: per client IP, per account from any
    address and per account for unknown addresses. Goes below `auth_required`."""
    return _stack(limiter.limit(_setting(*PASSWORD_LIMITS)),
                  limiter.shared_limit(_setting(*PASSWORD_LIMITS), scope="password-change",
                                       key_func=account_key),
                  _per_unknown_address(role, lambda: current_account()["email"]))

"""Per-account limits on Socket.IO events (SOCKET_EVENT_RATE_LIMIT), per-socket
budgets of one kind of event (CALL_SIGNAL_RATE_LIMIT), and per-address budgets
(CALL_GUEST_RATE_LIMIT).

The HTTP limits' flask-limiter storage and strategy (memory, or Redis with REDIS_URL,
shared by every process) count every event of an account over all its connections;
an anonymous connection counts per client address, the one HTTP routes see
(TRUSTED_PROXY_HOPS). RATELIMIT_ENABLED=false turns them off.
The namespace refuses an event over the limit like any other refused event."""
import functools

from flask import current_app, request, session
from limits import parse_many

from realtime_service.sockets.admission import client_address
from shared.extensions import limiter

SCOPE = "socket-events"
TOO_MANY = "Too many events, try again later"


def event_key():
    """The connection's account, or its client address when it is anonymous."""
    account_id = session.get("account_id")
    if account_id:
        return account_key(session.get("role"), account_id)
    return address_key()


def account_key(role, account_id):
    """The limit key of an account's events (what `event_key` answers for it)."""
    return f"account:{role}:{account_id}"


def address_key():
    """The connection's client address (X-Forwarded-For per TRUSTED_PROXY_HOPS)."""
    return "ip:" + client_address(request.environ)


@functools.cache
def _limits(setting):
    return parse_many(setting)


def over_limit(key=None):
    """Count one event of this connection's account (or of `key`, an `event_key` the
    connection recorded); whether it went over the limit."""
    return _over("SOCKET_EVENT_RATE_LIMIT", SCOPE, key or event_key())


def socket_over_limit(setting, scope):
    """Count one event of this very connection against the limit `setting` (a budget
    of one kind of event, on top of the account's); whether it went over."""
    return _over(setting, scope, "sid:" + request.sid)


def address_over_limit(setting, scope):
    """Count one event of this connection's client address against the limit
    `setting` (e.g. guests' joins); whether it went over."""
    return _over(setting, scope, address_key())


def _over(setting, scope, key):
    if not current_app.config.get("RATELIMIT_ENABLED") or not limiter.enabled:
        return False
    strategy = limiter.limiter
    items = _limits(current_app.config[setting])
    return not all(strategy.hit(item, scope, key) for item in items)

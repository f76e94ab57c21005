"""Per-account limits on Socket.IO events (SOCKET_EVENT_RATE_LIMIT).

The HTTP limits' flask-limiter storage and strategy (memory, or Redis with REDIS_URL,
shared by every process) count every event of an account over all its connections;
an anonymous connection counts per client IP. RATELIMIT_ENABLED=false turns them off.
The namespace refuses an event over the limit like any other refused event."""
import functools

from flask import current_app, request, session
from limits import parse_many

from shared.extensions import limiter

SCOPE = "socket-events"
TOO_MANY = "Too many events, try again later"


def event_key():
    """The connection's account, or its client IP when it is anonymous."""
    account_id = session.get("account_id")
    if account_id:
        return f"account:{session.get('role')}:{account_id}"
    return "ip:" + (request.remote_addr or "")


@functools.cache
def _limits(setting):
    return parse_many(setting)


def over_limit():
    """Count one event of this connection's account; whether it went over the limit."""
    if not current_app.config.get("RATELIMIT_ENABLED") or not limiter.enabled:
        return False
    key = event_key()
    strategy = limiter.limiter
    items = _limits(current_app.config["SOCKET_EVENT_RATE_LIMIT"])
    return not all(strategy.hit(item, SCOPE, key) for item in items)

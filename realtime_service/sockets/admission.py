"""Who may hold a socket, and for how long: the realtime service's one admission policy.

- Per client address, SOCKET_MAX_PER_ADDRESS Engine.IO connections (50): counted from
  the handshake until the connection closes, whether it joined the namespace or not,
  authenticated or anonymous. One more is refused before anything is kept for it:
  401 `{"message"}` to its handshake.
- Per account, SOCKET_MAX_PER_ACCOUNT authenticated connections (10: a few devices and
  tabs). One more is refused with `connect_error` `{"message"}`.
- An anonymous connection (one the app's `anonymous` socket hook accepted) has its
  transport closed after ANONYMOUS_SOCKET_SECONDS (60): a browser's client reconnects,
  with the cookie once its user has logged in.

The client address is the one HTTP routes see (TRUSTED_PROXY_HOPS of X-Forwarded-For).
Counts are this process's: with REDIS_URL and several processes, each counts its own
(the gateway's stickiness sends one client's sockets to one process, but an account
may hold up to the cap on each process). 0 turns a cap off.
"""
import logging
from collections import Counter

from realtime_service.sockets.transport import call_later

log = logging.getLogger(__name__)

TOO_MANY_FOR_ADDRESS = "Too many connections from this address"
TOO_MANY_FOR_ACCOUNT = "Too many connections for this account"


def client_address(environ):
    """The client's address: the app's outermost layer (shared.http.LoggedFlask) has
    already taken it from X-Forwarded-For per TRUSTED_PROXY_HOPS, Socket.IO requests
    included."""
    return environ.get("REMOTE_ADDR", "")


class AddressCounts:
    """This process's Engine.IO connections per client address, up to `limit` each."""

    def __init__(self, limit):
        self.limit = limit
        self.counts = Counter()
        self.addresses = {}  # Engine.IO sid -> client address

    def admit(self, eio_sid, address):
        """Count the connection `eio_sid` of `address`; False when it is one too many."""
        if self.limit and self.counts[address] >= self.limit:
            return False
        self.counts[address] += 1
        self.addresses[eio_sid] = address
        return True

    def release(self, eio_sid):
        address = self.addresses.pop(eio_sid, None)
        if address is None:
            return
        self.counts[address] -= 1
        if not self.counts[address]:
            del self.counts[address]


def limit_addresses(app, server):
    """Wrap the Engine.IO connect and disconnect handlers of the python-socketio
    `server` with the per-address count."""
    counts = app.extensions["socket_addresses"] = AddressCounts(
        app.config["SOCKET_MAX_PER_ADDRESS"])
    handle_connect = server.eio.handlers["connect"]
    handle_disconnect = server.eio.handlers["disconnect"]

    def on_eio_connect(eio_sid, environ):
        if not counts.admit(eio_sid, client_address(environ)):
            log.warning("socket refused: too many connections from one address")
            return {"message": TOO_MANY_FOR_ADDRESS}
        try:
            result = handle_connect(eio_sid, environ)
        except Exception:
            counts.release(eio_sid)
            raise
        if result is not None and result is not True:
            counts.release(eio_sid)
        return result

    def on_eio_disconnect(eio_sid, reason):
        try:
            return handle_disconnect(eio_sid, reason)
        finally:
            counts.release(eio_sid)

    server.eio.on("connect", on_eio_connect)
    server.eio.on("disconnect", on_eio_disconnect)


def account_full(config, local_count):
    """Whether an account with `local_count` connections here may open no more."""
    limit = config["SOCKET_MAX_PER_ACCOUNT"]
    return bool(limit) and local_count >= limit


def expire_anonymous(server, eio_sid, seconds):
    """Close the transport of the anonymous connection `eio_sid` after `seconds`
    (none with 0)."""
    if seconds:
        call_later(server, seconds, _close_if_open, server, eio_sid)


def _close_if_open(server, eio_sid):
    if eio_sid in server.environ:
        server.eio.disconnect(eio_sid)

"""Presence: which accounts are connected (pushes go through realtime_service.sockets.notifier).

`is_online(account_id)` and `online_ids(role)` answer for both roles.

Without REDIS_URL the online set is this process's own connections. With REDIS_URL
each process keeps, per role, a Redis set of the accounts connected to it, rewritten
by a heartbeat and expiring PRESENCE_TTL seconds after the process's last beat; the
online set is the union over the processes that beat recently, so the accounts of a
crashed process go offline on their own.

A connection that may be recovered can leave its account *held*: still online here
(and in this process's Redis set) until `released`, so that a drop and a recovery
within the grace change nothing anyone sees, in any process.
"""
import uuid

import redis
from flask import current_app

from realtime_service.extensions import socketio
from shared.config import env_float

ROLES = ("user", "captain")

# Connect, disconnect and the online check each take one Redis round trip (they took
# five, four and three as separate commands). The scripts read the sets of every live
# process, keys they derive rather than receive in KEYS: right for the one Redis server
# of REDIS_URL, not for Redis Cluster. KEYS: the process list, then (connect and
# disconnect) this process's set for the role. ARGV: key prefix, TTL, account id, then
# (connect) the set's expiry and process id.
_ONLINE_LUA = """
local function online(prefix, procs_key, ttl, account)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
  for _, proc in ipairs(redis.call('ZRANGEBYSCORE', procs_key, now - ttl, '+inf')) do
    for _, role in ipairs({ROLES}) do
      if redis.call('SISMEMBER', prefix .. ':' .. proc .. ':' .. role, account) == 1 then
        return true, now
      end
    end
  end
  return false, now
end
""".replace("ROLES", ", ".join(f"'{role}'" for role in ROLES))
CONNECT_LUA = _ONLINE_LUA + """
local was_online, now = online(ARGV[1], KEYS[1], tonumber(ARGV[2]), ARGV[3])
redis.call('SADD', KEYS[2], ARGV[3])
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[4]))
redis.call('ZADD', KEYS[1], now, ARGV[5])
return was_online and 0 or 1
"""
IS_ONLINE_LUA = _ONLINE_LUA + """
return online(ARGV[1], KEYS[1], tonumber(ARGV[2]), ARGV[3]) and 1 or 0
"""
DISCONNECT_LUA = _ONLINE_LUA + """
redis.call('SREM', KEYS[2], ARGV[3])
local still_online = online(ARGV[1], KEYS[1], tonumber(ARGV[2]), ARGV[3])
return still_online and 0 or 1
"""


def is_online(account_id):
    return _store().is_online(str(account_id))


def online_ids(role):
    """The ids (strings) of the accounts of `role` with at least one connection."""
    return _store().online_ids(role)


def local_ids(role):
    """Like `online_ids`, counting only this process's connections (needs no Redis)."""
    return _store().local.ids(role)


def local_count(role, account_id):
    """This process's connections of one account."""
    return _store().local.count(role, str(account_id))


def connected(role, account_id, sid):
    """Record a connection; True when the online set changed."""
    return _store().connected(role, str(account_id), sid)


def disconnected(role, account_id, sid, hold=False):
    """Forget a connection; True when the online set changed. With `hold`, an account
    whose last connection this was stays online until `released` (or a new one)."""
    return _store().disconnected(role, str(account_id), sid, hold)


def held(role, account_id):
    """Whether the account is online only by a hold of this process."""
    return _store().local.is_held(role, str(account_id))


def released(role, account_id):
    """End the account's hold; True when that took it out of the online set."""
    return _store().released(role, str(account_id))


def _store():
    return current_app.extensions["presence"]


def init_app(app):
    ttl = app.config.get("PRESENCE_TTL") or env_float("PRESENCE_TTL", 15.0)
    url = app.config.get("REDIS_URL")
    app.extensions["presence"] = RedisPresence(url, ttl) if url else MemoryPresence()


class LocalSockets:
    """This process's connections: (role, account id) -> set of socket ids."""

    def __init__(self):
        self.sockets = {}
        self.held = set()  # (role, account id) online without a connection here

    def add(self, role, account_id, sid):
        """Record a connection; True when the account was not online here (it may
        have been held: the hold ends)."""
        sids = self.sockets.setdefault((role, account_id), set())
        sids.add(sid)
        was_held = (role, account_id) in self.held
        self.held.discard((role, account_id))
        return len(sids) == 1 and not was_held

    def remove(self, role, account_id, sid, hold=False):
        """Forget a connection; True when it was the account's last one here (and
        not `hold`: then the account is held instead)."""
        sids = self.sockets.get((role, account_id))
        if not sids or sid not in sids:
            return False
        sids.discard(sid)
        if sids:
            return False
        del self.sockets[(role, account_id)]
        if hold:
            self.held.add((role, account_id))
        return not hold

    def release(self, role, account_id):
        """End a hold; True when there was one."""
        if (role, account_id) not in self.held:
            return False
        self.held.discard((role, account_id))
        return True

    def is_held(self, role, account_id):
        return (role, account_id) in self.held

    def count(self, role, account_id):
        return len(self.sockets.get((role, account_id), ()))

    def ids(self, role):
        return {account_id for (r, account_id) in [*self.sockets, *self.held] if r == role}

    def has(self, account_id):
        return any((role, account_id) in self.sockets or (role, account_id) in self.held
                   for role in ROLES)


class MemoryPresence:
    """One process: the online set is this process's connections."""

    heartbeat_seconds = None

    def __init__(self):
        self.local = LocalSockets()

    def connected(self, role, account_id, sid):
        """Record a connection; True when the online set changed."""
        return self.local.add(role, account_id, sid)

    def disconnected(self, role, account_id, sid, hold=False):
        return self.local.remove(role, account_id, sid, hold)

    def released(self, role, account_id):
        return self.local.release(role, account_id)

    def is_online(self, account_id):
        return self.local.has(account_id)

    def online_ids(self, role):
        return self.local.ids(role)

    def heartbeat(self):
        return False


class RedisPresence:
    """Several processes: see the module docstring."""

    def __init__(self, url, ttl, prefix="ridewire:presence"):
        self.redis = redis.Redis.from_url(url, decode_responses=True)
        self.ttl = ttl
        self.heartbeat_seconds = max(ttl / 3, 0.2)
        self.prefix = prefix
        self.procs_key = f"{prefix}:procs"
        self.proc = uuid.uuid4().hex
        self.local = LocalSockets()
        self._connect = self.redis.register_script(CONNECT_LUA)
        self._disconnect = self.redis.register_script(DISCONNECT_LUA)
        self._is_online = self.redis.register_script(IS_ONLINE_LUA)

    def _key(self, proc, role):
        return f"{self.prefix}:{proc}:{role}"

    def _now(self):
        # The Redis server's clock, so that processes on several hosts agree.
        seconds, micros = self.redis.time()
        return seconds + micros / 1e6

    def _live_procs(self):
        return self.redis.zrangebyscore(self.procs_key, self._now() - self.ttl, "+inf")

    def connected(self, role, account_id, sid):
        if not self.local.add(role, account_id, sid):
            return False
        try:
            return bool(self._connect(
                keys=[self.procs_key, self._key(self.proc, role)],
                args=[self.prefix, self.ttl, account_id, int(self.ttl) + 1, self.proc]))
        except redis.RedisError:
            self.local.remove(role, account_id, sid)  # the connection will be refused
            raise

    def disconnected(self, role, account_id, sid, hold=False):
        if not self.local.remove(role, account_id, sid, hold):
            return False
        return self._leave(role, account_id)

    def released(self, role, account_id):
        return self.local.release(role, account_id) and self._leave(role, account_id)

    def _leave(self, role, account_id):
        """Out of this process's set; True when no process has the account any more."""
        return bool(self._disconnect(keys=[self.procs_key, self._key(self.proc, role)],
                                     args=[self.prefix, self.ttl, account_id]))

    def is_online(self, account_id):
        return bool(self._is_online(keys=[self.procs_key],
                                    args=[self.prefix, self.ttl, account_id]))

    def online_ids(self, role):
        keys = [self._key(proc, role) for proc in self._live_procs()]
        return set(self.redis.sunion(keys)) if keys else set()

    def heartbeat(self):
        """Rewrite this process's sets and drop processes that stopped beating.
        True when a dead process was dropped (its accounts left the online set)."""
        now = self._now()
        pipe = self.redis.pipeline(transaction=True)
        pipe.zadd(self.procs_key, {self.proc: now})
        for role in ROLES:
            key = self._key(self.proc, role)
            pipe.delete(key)
            ids = self.local.ids(role)
            if ids:
                pipe.sadd(key, *ids)
                pipe.expire(key, int(self.ttl) + 1)
        pipe.execute()
        dead = False
        for proc in self.redis.zrangebyscore(self.procs_key, "-inf", now - self.ttl):
            # ZREM decides which live process reports the dead one (exactly one does).
            if self.redis.zrem(self.procs_key, proc):
                dead = True
                self.redis.delete(*(self._key(proc, role) for role in ROLES))
        return dead


def beat_forever(app, announce_online_users):
    """Background task: keep this process's presence alive in Redis; announce (with
    `announce_online_users`, the notifier's) when a crashed process's users drop out
    of the online set."""
    store = app.extensions["presence"]
    while True:
        socketio.sleep(store.heartbeat_seconds)
        try:
            with app.app_context():
                if store.heartbeat():
                    announce_online_users()
        except redis.RedisError as error:
            app.logger.warning("presence heartbeat failed: %s", type(error).__name__)
        except Exception:  # keep beating whatever happens
            app.logger.exception("presence heartbeat failed")

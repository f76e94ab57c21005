"""The live captain index: each connected captain's latest position, vehicle type and
report time, and the captain -> open ride mapping beside it, so that a location update
and the nearest-captains query cost no database round trip.

`MemoryIndex` serves one process: positions in fixed cells of CELL_DEGREES, searched
ring by ring outwards from the pickup's cell. `RedisIndex` (with REDIS_URL) shares them
between processes: a GEO set per vehicle type, a sorted set of report times and a hash
of open rides; it mirrors every write into a `MemoryIndex` of its own and answers from
it while Redis is away (logged once when Redis goes, once when it is back).

A captain silent for LOCATION_STALE_SECONDS is not returned. Entries leave on
disconnection; the sweep drops those a crashed process left behind in Redis.
"""
import time

import redis
from bson import ObjectId
from flask import current_app

from realtime_service.rides.cell_index import MemoryIndex
from shared.accounts import accounts

RETRY_SECONDS = 1.0  # how long a failed Redis is left alone before it is tried again
# One report: the position, its time, the vehicle type (what the sweep looks through),
# and the captain's open ride back. One command: a pipeline of the four cost the
# realtime process half as much CPU again. KEYS: the GEO set of the vehicle type, the
# report times, the vehicle types, the open rides; ARGV: lng, lat, captain, time, type.
UPDATE_LUA = """
redis.call('GEOADD', KEYS[1], ARGV[1], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
redis.call('SADD', KEYS[3], ARGV[5])
return redis.call('HGET', KEYS[4], ARGV[3])
"""
# The nearest query in one command: of the ARGV[4] nearest within ARGV[3] km of
# (ARGV[1], ARGV[2]), those reported since ARGV[5], without an open ride, not among
# ARGV[7...], at most ARGV[6]; and how many the GEOSEARCH found. KEYS: the GEO set of
# the vehicle type, the report times, the open rides.
NEAREST_LUA = """
local ids = redis.call('GEOSEARCH', KEYS[1], 'FROMLONLAT', ARGV[1], ARGV[2],
                       'BYRADIUS', ARGV[3], 'km', 'ASC', 'COUNT', ARGV[4])
local fresh_after, limit, excluded, kept = tonumber(ARGV[5]), tonumber(ARGV[6]), {}, {}
for i = 7, #ARGV do excluded[ARGV[i]] = true end
for _, id in ipairs(ids) do
  if #kept >= limit then break end
  local seen = redis.call('ZSCORE', KEYS[2], id)
  if not excluded[id] and seen and tonumber(seen) >= fresh_after
      and redis.call('HEXISTS', KEYS[3], id) == 0 then
    kept[#kept + 1] = id
  end
end
return {kept, #ids}
"""


def init_app(app):
    stale = app.config["LOCATION_STALE_SECONDS"]
    url = app.config.get("REDIS_URL")
    app.extensions["captain_index"] = (RedisIndex(url, stale, app.logger) if url
                                       else MemoryIndex(stale))


def index():
    """This app's index (a MemoryIndex or a RedisIndex: the same methods)."""
    return current_app.extensions["captain_index"]


def nearest(pickup, radius_km, vehicle_type, limit, exclude=()):
    """ObjectIds of up to `limit` captains to offer a ride at `pickup` ({"lat", "lng"}),
    nearest first: connected, reported within LOCATION_STALE_SECONDS, of
    `vehicle_type`, within `radius_km`, without an open ride, not in `exclude`, and on
    duty (the status lives in the database, changed by the auth service: one query
    confirms the index's candidates)."""
    skipped = {str(captain_id) for captain_id in exclude}
    chosen = []
    while len(chosen) < limit:
        wanted = 2 * (limit - len(chosen))
        found = index().nearest(pickup["lat"], pickup["lng"], radius_km, vehicle_type,
                                wanted, skipped)
        if not found:
            break
        ids = [ObjectId(captain_id) for captain_id in found]
        on_duty = accounts.on_duty_among(ids, vehicle_type)
        chosen += [captain_id for captain_id in ids if captain_id in on_duty]
        skipped.update(found)
        if len(found) < wanted:
            break
    return chosen[:limit]


def positions(captain_ids):
    """{id: {"lat", "lng"}} of those of `captain_ids` that the index has (for ranking
    by road)."""
    keys = {str(captain_id): captain_id for captain_id in captain_ids}
    found = index().positions(list(keys))
    return {keys[key]: {"lat": lat, "lng": lng} for key, (lat, lng) in found.items()}


class RedisIndex:
    """Positions and open rides in Redis, mirrored in this process's MemoryIndex."""

    def __init__(self, url, stale_seconds, logger, prefix="ridewire:captains"):
        self.redis = redis.Redis.from_url(url, decode_responses=True,
                                          socket_connect_timeout=1, socket_timeout=1)
        self.local = MemoryIndex(stale_seconds)
        self.stale, self.logger, self.prefix = stale_seconds, logger, prefix
        self.seen_key, self.rides_key = f"{prefix}:seen", f"{prefix}:rides"
        self.types_key, self.epoch_key = f"{prefix}:types", f"{prefix}:epoch"
        self.down_until = None  # while set, Redis failed and is left alone until then
        self.needs_rebuild = False  # Redis came back: its open rides may be out of date
        self._update = self.redis.register_script(UPDATE_LUA)
        self._nearest = self.redis.register_script(NEAREST_LUA)

    def geo_key(self, vehicle_type):
        return f"{self.prefix}:geo:{vehicle_type}"

    # Falling back.

    def _call(self, action, fallback):
        """`action()` against Redis, or `fallback()` (the local mirror) when Redis is
        away: the first failure is logged, Redis is tried again RETRY_SECONDS later."""
        if self.down_until is not None and time.monotonic() < self.down_until:
            return fallback()
        try:
            result = action()
        except redis.RedisError as error:
            if self.down_until is None:
                self.logger.warning(
                    "captain index: Redis unavailable (%s), answering from this process's "
                    "own captains until it is back", type(error).__name__)
            self.down_until = time.monotonic() + RETRY_SECONDS
            return fallback()
        if self.down_until is not None:
            self.logger.warning("captain index: Redis is back")
            self.down_until, self.needs_rebuild = None, True
        return result

    @property
    def available(self):
        return self.down_until is None

    # Positions.

    def add(self, captain_id, vehicle_type, lat, lng, seen):
        """A captain (re)connected, with its stored position or none: replaces any entry
        of another vehicle type, and an older report than `seen`."""
        self.local.add(captain_id, vehicle_type, lat, lng, seen)

        def write():
            known = self.redis.zscore(self.seen_key, captain_id)
            pipe = self.redis.pipeline(transaction=False)
            pipe.sadd(self.types_key, vehicle_type)
            for other in self.redis.smembers(self.types_key) - {vehicle_type}:
                pipe.zrem(self.geo_key(other), captain_id)
            if lat is not None and (known is None or known < seen):
                pipe.geoadd(self.geo_key(vehicle_type), (lng, lat, captain_id))
                pipe.zadd(self.seen_key, {captain_id: seen})
            pipe.execute()

        self._call(write, lambda: None)

    def update(self, captain_id, vehicle_type, lat, lng, seen):
        """Record a report; return the captain's open ride `(ride id, rider id)` or
        None. One round trip, one command."""
        local_ride = self.local.update(captain_id, vehicle_type, lat, lng, seen)

        def write():
            ride = _ride_of(self._update(
                keys=[self.geo_key(vehicle_type), self.seen_key, self.types_key,
                      self.rides_key],
                args=[lng, lat, captain_id, seen, vehicle_type]))
            self.local.set_ride(captain_id, ride)  # the mirror follows the shared mapping
            return ride

        return self._call(write, lambda: local_ride)

    def remove(self, captain_id, vehicle_type):
        """The captain went offline."""
        self.local.remove(captain_id, vehicle_type)

        def write():
            pipe = self.redis.pipeline(transaction=False)
            pipe.zrem(self.geo_key(vehicle_type), captain_id)
            pipe.zrem(self.seen_key, captain_id)
            pipe.execute()

        self._call(write, lambda: None)

    def position(self, captain_id):
        """`(lat, lng, seen)` of the captain's latest report known here, or None."""
        return self.local.position(captain_id)

    def positions(self, captain_ids):
        """{id: (lat, lng)} of those of the captains that are indexed, whichever
        process they report through."""
        def read():
            pipe = self.redis.pipeline(transaction=False)
            for vehicle_type in self.redis.smembers(self.types_key):
                pipe.geopos(self.geo_key(vehicle_type), *captain_ids)
            found = {}
            for answers in pipe.execute():
                found.update({captain_id: (point[1], point[0]) for captain_id, point
                              in zip(captain_ids, answers, strict=True) if point})
            return found

        if not captain_ids:
            return {}
        return self._call(read, lambda: self.local.positions(captain_ids))

    def nearest(self, lat, lng, radius_km, vehicle_type, limit, exclude=frozenset(), now=None):
        """Ids of up to `limit` fresh captains without an open ride within `radius_km`,
        nearest first, not in `exclude`."""
        now = time.time() if now is None else now
        return self._call(
            lambda: self._search(lat, lng, radius_km, vehicle_type, limit, exclude, now),
            lambda: self.local.nearest(lat, lng, radius_km, vehicle_type, limit, exclude, now))

    def _search(self, lat, lng, radius_km, vehicle_type, limit, exclude, now):
        count = max(4 * limit + len(exclude), 16)
        while True:
            kept, found = self._nearest(
                keys=[self.geo_key(vehicle_type), self.seen_key, self.rides_key],
                args=[lng, lat, radius_km, count, now - self.stale, limit, *exclude])
            if len(kept) == limit or found < count:
                return kept
            count *= 4

    # Open rides.

    def set_ride(self, captain_id, ride):
        """`ride` = (ride id, rider id) while the captain has an open ride, else None."""
        self.local.set_ride(captain_id, ride)

        def write():
            if ride is None:
                self.redis.hdel(self.rides_key, captain_id)
            else:
                self.redis.hset(self.rides_key, captain_id, " ".join(ride))

        self._call(write, lambda: None)

    def ride_of(self, captain_id):
        return self.local.ride_of(captain_id)

    def rides_need_loading(self):
        """Whether the open rides must be read from the database: on first use, after
        Redis lost its data (a restart) and after an outage (changes made meanwhile
        reached only the process that made them)."""
        if self.needs_rebuild:
            return True
        return bool(self._call(lambda: not self.redis.exists(self.epoch_key), lambda: False))

    def begin_loading(self):
        self.local.begin_loading()

    def load_rides(self, rides):
        """Replace the mapping with `rides` ({captain id: (ride id, rider id)}) read
        from the database, but for the rides this process changed meanwhile."""
        touched = self.local.load_rides(rides)
        fresh = {c: r for c, r in rides.items() if c not in touched}

        def write():
            stored = self.redis.hkeys(self.rides_key)
            gone = [c for c in stored if c not in rides and c not in touched]
            pipe = self.redis.pipeline(transaction=True)
            if gone:
                pipe.hdel(self.rides_key, *gone)
            if fresh:
                pipe.hset(self.rides_key, mapping={c: " ".join(r) for c, r in fresh.items()})
            pipe.set(self.epoch_key, int(time.time()))
            pipe.execute()
            self.needs_rebuild = False

        self._call(write, lambda: None)
        return touched

    def sweep(self, now=None):
        """Drop the entries not reported for LOCATION_STALE_SECONDS (a crashed process's
        captains); return how many."""
        cutoff = (time.time() if now is None else now) - self.stale

        def write():
            stale = self.redis.zrangebyscore(self.seen_key, "-inf", cutoff)
            if not stale:
                return 0
            pipe = self.redis.pipeline(transaction=False)
            for vehicle_type in self.redis.smembers(self.types_key):
                pipe.zrem(self.geo_key(vehicle_type), *stale)
            pipe.zremrangebyscore(self.seen_key, "-inf", cutoff)
            pipe.execute()
            return len(stale)

        return self._call(write, lambda: 0)


def _ride_of(stored):
    return None if stored is None else tuple(stored.split(" ", 1))


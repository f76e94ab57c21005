"""Ranking a round's candidates by how soon they reach the pickup.

With a router configured (ROUTER or ROUTING_URL, realtime_service/maps/providers.py)
the road travel time of each candidate comes from one routingpy `matrix` call per round
(OSRM's table, Valhalla, GraphHopper, Google...), from the candidates to the pickup; a
travel time is kept DISPATCH_RANK_CACHE_SECONDS, so a later round asks only about the
candidates it has not seen. Without a router, or when it fails (logged), a candidate's
time is the great-circle distance x ROAD_FACTOR at the vehicle type's average speed, as
fares estimate it.
"""
import inspect
import logging
import math
import time

from flask import current_app

from realtime_service.maps import providers
from realtime_service.rides import fares

log = logging.getLogger(__name__)
DECIMALS = 3  # points are rounded to about 110 m for the cache, as routes are
MAX_CACHED = 50_000
DEFAULT_SPEED_KMH = 30
_cache = {}  # (router identity..., from, to) -> (seconds, monotonic expiry)


def router():
    """`(router, profile, identity)` of the configured router, or None (a bad setting
    is logged and ranks as without one)."""
    try:
        return providers.configured_router(current_app.config)
    except providers.ProviderError as error:
        log.warning("dispatch ranking: router misconfigured (%s)", error)
        return None


def rank(pickup, captain_ids, vehicle_type, positions):
    """`captain_ids` (nearest first by straight line) ordered by travel time to `pickup`,
    quickest first; `positions(ids)` gives their {id: {"lat", "lng"}}. Ties keep the
    given order. Without a router the given order is the great-circle one already."""
    configured = router()
    if configured is None:
        return list(captain_ids)
    places = positions(captain_ids)
    try:
        by_road = road_seconds(configured, places, pickup)
    except providers.ProviderError as error:
        log.warning("dispatch ranking: the router failed (%s); ranking by great-circle "
                    "distance", error)
        by_road = {}
    speed = current_app.config["FARES"].get(vehicle_type, {}).get("speedKmh",
                                                                  DEFAULT_SPEED_KMH)

    def seconds(captain_id):
        if by_road.get(captain_id) is not None:
            return by_road[captain_id]
        if captain_id not in places:
            return math.inf
        km = fares.road_km(places[captain_id], pickup, current_app.config["ROAD_FACTOR"])
        return km / speed * 3600

    order = {captain_id: index for index, captain_id in enumerate(captain_ids)}
    return sorted(captain_ids, key=lambda captain_id: (seconds(captain_id), order[captain_id]))


def _point(place):
    return round(place["lat"], DECIMALS), round(place["lng"], DECIMALS)


def road_seconds(configured, places, pickup):
    """{id: seconds by road to `pickup`, or None where the router knows no route} for
    the captains of `places`: cached ones from the cache, the others by one matrix call.
    ProviderError when the router fails."""
    service, profile, identity = configured
    target = _point(pickup)
    keys = {captain_id: (*identity, _point(place), target)
            for captain_id, place in places.items()}
    found = {captain_id: _cached(key) for captain_id, key in keys.items()}
    missing = [captain_id for captain_id, value in found.items() if value is None]
    if missing:
        origins = [keys[captain_id][-2] for captain_id in missing]
        for captain_id, value in zip(missing, table(service, profile, origins, target),
                                     strict=True):
            found[captain_id] = value
            if value is not None:
                _store(keys[captain_id], value)
    return found


@providers.answers
def table(service, profile, origins, target):
    """Seconds from each of `origins` ((lat, lng) pairs) to `target` by road (None where
    there is no route): one matrix call."""
    locations = [[target[1], target[0]]] + [[lng, lat] for lat, lng in origins]
    options = {"annotations": ["duration"]} if "annotations" in inspect.signature(
        service.matrix).parameters else {}  # OSRM: no distances to compute
    matrix = service.matrix(locations=locations, profile=profile,
                            sources=list(range(1, len(locations))), destinations=[0],
                            **options)
    rows = matrix.durations
    if len(rows) != len(origins):
        raise ValueError("matrix size")
    return [None if row[0] is None else float(row[0]) for row in rows]


def _cached(key):
    entry = _cache.get(key)
    if entry is None or entry[1] <= time.monotonic():
        return None
    return entry[0]


def _store(key, seconds):
    ttl = current_app.config["DISPATCH_RANK_CACHE_SECONDS"]
    if ttl <= 0:
        return
    stamp = time.monotonic()
    if len(_cache) >= MAX_CACHED:
        for stale in [k for k, (_, expiry) in _cache.items() if expiry <= stamp]:
            del _cache[stale]
        if len(_cache) >= MAX_CACHED:
            _cache.clear()
    _cache[key] = (seconds, stamp + ttl)


def forget():
    """Drop every cached travel time (a test's fresh start)."""
    _cache.clear()

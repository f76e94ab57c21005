"""Who is offered a ride: the candidates of an offer round (realtime_service.rides.rounds
is their user).

`candidates` and `positions` are where the captains' live positions are read (the
accounts' 2dsphere query of MongoDB); `offer_batch` keeps to them, so that another store
of positions replaces their bodies and nothing else.
"""
from datetime import timedelta

from flask import current_app
from redis import RedisError

from realtime_service.rides import captain_states, ranking
from realtime_service.sockets import presence
from shared.accounts import accounts
from shared.accounts.roles import Role
from shared.serialize import now


def connected_captains():
    """Ids (strings) of the connected captains; this process's own when Redis is down,
    so that dispatch keeps serving."""
    try:
        return presence.online_ids(Role.CAPTAIN)
    except RedisError:
        current_app.logger.warning("dispatch: Redis unavailable, local captains only")
        return presence.local_ids(Role.CAPTAIN)


def candidates(pickup, vehicle_type, radius_km, exclude, limit):
    """Ids of at most `limit` captains nearest first to `pickup` ({"lat", "lng"}) within
    `radius_km`: active, of `vehicle_type`, connected now, whose position is at most
    LOCATION_STALE_SECONDS old, not in `exclude` (ids)."""
    connected = connected_captains()
    if not connected or limit < 1:
        return []
    config = current_app.config
    fresh_since = now() - timedelta(seconds=config["LOCATION_STALE_SECONDS"])
    excluded = {str(captain_id) for captain_id in exclude}
    # The online filter is applied here rather than as an `_id: {$in: [...]}` in the
    # query, which made the query much slower with hundreds of captains online
    # (BENCHMARKS.md, scenario 2).
    chosen = []
    for captain_id in accounts.nearest_active_captains(pickup, radius_km * 1000,
                                                       vehicle_type, fresh_since):
        key = str(captain_id)
        if key in connected and key not in excluded:
            chosen.append(captain_id)
            if len(chosen) == limit:
                break
    return chosen


def positions(captain_ids):
    """{id: {"lat", "lng"}}: the last known position of each of the captains."""
    return accounts.captain_positions(captain_ids)


def available_candidates(pickup, vehicle_type, radius_km, exclude, limit):
    """Up to `limit` `candidates`, nearest first, that are available (neither on a ride
    nor holding another ride's live offer: captain_states)."""
    chosen, passed = [], set(exclude)
    while len(chosen) < limit:
        found = candidates(pickup, vehicle_type, radius_km, passed, limit - len(chosen))
        if not found:
            break
        chosen += captain_states.available_among(found)
        passed |= set(found)
    return chosen


def offer_batch(pickup, vehicle_type, radius_km, exclude):
    """The ids to offer the ride to in one round: of the DISPATCH_MAX nearest available
    captains not in `exclude`, the DISPATCH_BATCH quickest to reach the pickup by road
    (ranking), quickest first; without a router, the DISPATCH_BATCH nearest."""
    config = current_app.config
    batch = config["DISPATCH_BATCH"]
    by_road = ranking.router() is not None
    pool = available_candidates(pickup, vehicle_type, radius_km, exclude,
                                max(config["DISPATCH_MAX"], batch) if by_road else batch)
    if by_road and len(pool) > 1:
        pool = ranking.rank(pickup, pool, vehicle_type, positions)
    return pool[:batch]

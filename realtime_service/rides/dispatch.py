"""Who is offered a ride: the candidates of an offer round (realtime_service.rides.rounds
is their user).

`candidates` and `positions` read the captains' live positions from the live captain
index (realtime_service.rides.captain_index); `offer_batch` keeps to them.
"""
from flask import current_app

from realtime_service.rides import captain_index, captain_states, ranking


def candidates(pickup, vehicle_type, radius_km, exclude, limit):
    """Ids of at most `limit` captains nearest first to `pickup` ({"lat", "lng"}) within
    `radius_km`: active, of `vehicle_type`, connected now, whose position is at most
    LOCATION_STALE_SECONDS old, without an open ride, not in `exclude` (ids)."""
    if limit < 1:
        return []
    return captain_index.nearest(pickup, radius_km, vehicle_type, limit, exclude)


def positions(captain_ids):
    """{id: {"lat", "lng"}}: the live position of each of the captains the index has."""
    return captain_index.positions(captain_ids)


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

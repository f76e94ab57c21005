"""Who gets a ride request: the "nearby captains" query of the rides service
(realtime_service.rides.service is its only user)."""
from flask import current_app
from redis import RedisError

from realtime_service.sockets import presence
from shared.accounts import accounts
from shared.accounts.roles import Role


def connected_captains():
    """Ids (strings) of the connected captains; this process's own when Redis is down,
    so that dispatch keeps serving."""
    try:
        return presence.online_ids(Role.CAPTAIN)
    except RedisError:
        current_app.logger.warning("dispatch: Redis unavailable, local captains only")
        return presence.local_ids(Role.CAPTAIN)


def nearby_captains(pickup, vehicle_type):
    """Ids of the captains to send `new-ride`, nearest first: active, connected now, of the
    ride's vehicle type, within DISPATCH_RADIUS_KM of the pickup, at most DISPATCH_MAX."""
    connected = connected_captains()
    if not connected:
        return []
    config = current_app.config
    # The online filter is applied here rather than as an `_id: {$in: [...]}` in the
    # query, which made the query much slower with hundreds of captains online
    # (BENCHMARKS.md, scenario 2).
    chosen = []
    radius_m = config["DISPATCH_RADIUS_KM"] * 1000
    for captain_id in accounts.nearest_active_captains(pickup, radius_m, vehicle_type):
        if str(captain_id) in connected:
            chosen.append(captain_id)
            if len(chosen) == config["DISPATCH_MAX"]:
                break
    return chosen

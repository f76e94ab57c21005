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
    # $geoNear rather than find($nearSphere): it always returns nearest first, also on
    # servers that do not sort $nearSphere results. The online filter is applied here
    # rather than as an `_id: {$in: [...]}` in the query, which made the query much
    # slower with hundreds of captains online (BENCHMARKS.md, scenario 2).
    pipeline = [
        {"$geoNear": {
            "near": {"type": "Point", "coordinates": [pickup["lng"], pickup["lat"]]},
            "distanceField": "distanceM",
            "maxDistance": config["DISPATCH_RADIUS_KM"] * 1000,
            "spherical": True,
            "query": {"status": "active", "vehicle.vehicleType": vehicle_type},
        }},
        {"$project": {"_id": 1}},
    ]
    chosen = []
    for doc in accounts.collection(Role.CAPTAIN).aggregate(pipeline, batchSize=100):
        if str(doc["_id"]) in connected:
            chosen.append(doc["_id"])
            if len(chosen) == config["DISPATCH_MAX"]:
                break
    return chosen

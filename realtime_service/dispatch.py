"""Who gets a ride request, and the pushes and history entries of ride transitions."""
from flask import current_app
from redis import RedisError

from realtime_service import presence
from shared.models import accounts, activity
from shared.models import rides as rides_model


def nearby_captains(pickup, vehicle_type):
    """Ids of the captains to send `new-ride`, nearest first: active, connected now, of the
    ride's vehicle type, within DISPATCH_RADIUS_KM of the pickup, at most DISPATCH_MAX."""
    try:
        connected = presence.online_ids("captain")
    except RedisError:  # keep serving: dispatch to the captains connected to this process
        current_app.logger.warning("dispatch: Redis unavailable, local captains only")
        connected = presence.local_ids("captain")
    if not connected:
        return []
    config = current_app.config
    # $geoNear rather than find($nearSphere): it always returns nearest first, also on
    # servers that do not sort $nearSphere results. The online filter is applied here
    # rather than as an `_id: {$in: [...]}` in the query: with hundreds of captains
    # online that $in made the query ~3x slower (BENCHMARKS.md, scenario 2).
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
    for doc in accounts.collection("captain").aggregate(pipeline, batchSize=100):
        if str(doc["_id"]) in connected:
            chosen.append(doc["_id"])
            if len(chosen) == config["DISPATCH_MAX"]:
                break
    return chosen


def record(ride, action, **meta):
    """`action` in the history of the ride's rider and, once there is one, its captain."""
    meta = {"rideId": str(ride["_id"]), "status": ride["status"], **meta}
    activity.record(ride["user"], "user", action, meta)
    if ride.get("captain"):
        activity.record(ride["captain"], "captain", action, meta)


def to_parties(ride, event):
    """Push `event` with the ride to its rider (with the OTP) and its captain (without)."""
    presence.push(ride["user"], event, rides_model.present(ride, ride["user"]))
    if ride.get("captain"):
        presence.push(ride["captain"], event, rides_model.present(ride, ride["captain"]))


def to_captains(captain_ids, event, payload):
    presence.push_many(captain_ids, event, payload)

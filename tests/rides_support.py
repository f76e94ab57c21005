"""Helpers for the ride tests: places around one pickup point, ride requests, and the
offer state of a ride written straight to the database."""
import math
import time
from datetime import timedelta

from shared.serialize import now

# Pickup in Bengaluru; offsets in km are turned into degrees of latitude/longitude.
PICKUP = {"lat": 12.9716, "lng": 77.5946, "address": "MG Road"}
DESTINATION = {"lat": 13.0358, "lng": 77.5970, "address": "Hebbal"}
KM_PER_DEG_LAT = 111.195


def north_of(place, km):
    """(lat, lng) `km` north of `place` (for make_captain's `location`)."""
    return (place["lat"] + km / KM_PER_DEG_LAT, place["lng"])


def east_of(place, km):
    return (place["lat"], place["lng"] + km / (KM_PER_DEG_LAT * math.cos(
        math.radians(place["lat"]))))


def ride_body(vehicle_type="car", pickup=PICKUP, destination=DESTINATION):
    return {"pickup": pickup, "destination": destination, "vehicleType": vehicle_type}


def live_offer(captain_ids, seconds=600):
    """The offer state (`dispatch`) of a pending ride in its first round, offered to
    `captain_ids` for `seconds`: for rides inserted straight into the database."""
    stamp = now()
    return {"round": 1, "step": 1, "captains": list(captain_ids), "declined": {},
            "expiresAt": stamp + timedelta(seconds=seconds), "radiusKm": 3.0,
            "endsAt": stamp + timedelta(seconds=seconds)}


def online_by_hand(app, captain, sid=None):
    """Record `captain` (the account) as a connection does, without a socket: in the
    app's presence and live captain index (at its stored position), so that dispatch
    finds it."""
    from realtime_service.rides import locations

    with app.app_context():
        app.extensions["presence"].connected("captain", str(captain["_id"]),
                                             sid or f"sid-{captain['_id']}")
        locations.captain_connected(captain)


def report_by_hand(app, captain, lat, lng):
    """`captain` (the account) reports a position, as its update-location-captain
    would: into the app's live captain index, now."""
    from realtime_service.rides import captain_index

    with app.app_context():
        captain_index.index().update(str(captain["_id"]), captain["vehicle"]["vehicleType"],
                                     lat, lng, time.time())

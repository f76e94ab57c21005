"""Helpers for the ride tests: places around one pickup point, and ride requests."""
import math

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

"""Distance, duration and fare estimates.

Distance is the great-circle (haversine) distance times ROAD_FACTOR, since roads
are rarely straight; duration comes from each vehicle type's average speed.
Fare = max(minimum, base + perKm * km + perMin * min) with the FARES table of
the config (see shared/config.py DEFAULT_FARES), rounded half-up to a whole unit
like the tutorials' `Math.round`.
"""
import math
from decimal import ROUND_HALF_UP, Decimal

EARTH_RADIUS_KM = 6371.0088


def great_circle_km(pickup, destination):
    """Haversine distance in km between two {"lat", "lng"} points."""
    lat1, lat2 = math.radians(pickup["lat"]), math.radians(destination["lat"])
    dlat = lat2 - lat1
    dlng = math.radians(destination["lng"] - pickup["lng"])
    a = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlng / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def road_km(pickup, destination, road_factor):
    return great_circle_km(pickup, destination) * road_factor


def duration_min(km, rates):
    return km / rates["speedKmh"] * 60


def fare(km, minutes, rates):
    """The fare for one vehicle type's `rates`, never below its minimum."""
    raw = rates["base"] + rates["perKm"] * km + rates["perMin"] * minutes
    rounded = Decimal(str(raw)).quantize(Decimal("1"), rounding=ROUND_HALF_UP)
    return max(int(rates["minimum"]), int(rounded))


def estimate(pickup, destination, fares, road_factor):
    """Distance, per-type durations and per-type fares for a trip.

    Returns {"distanceKm", "durationMin", "durations": {type: min}, "fares": {type: fare}};
    `durationMin` is the longest of the per-type durations (a safe upper bound)."""
    km = road_km(pickup, destination, road_factor)
    durations = {kind: duration_min(km, rates) for kind, rates in fares.items()}
    return {
        "fares": {kind: fare(km, durations[kind], rates) for kind, rates in fares.items()},
        "distanceKm": round(km, 2),
        "durationMin": round(max(durations.values(), default=0), 1),
        "durations": {kind: round(minutes, 1) for kind, minutes in durations.items()},
    }


def estimate_for(pickup, destination, vehicle_type, fares, road_factor):
    """{"fare", "distanceKm", "durationMin"} for one vehicle type."""
    rates = fares[vehicle_type]
    km = road_km(pickup, destination, road_factor)
    minutes = duration_min(km, rates)
    return {"fare": fare(km, minutes, rates), "distanceKm": round(km, 2),
            "durationMin": round(minutes, 1)}

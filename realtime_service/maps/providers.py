"""The maps providers, chosen by configuration: a geopy geocoder (GEOCODER, GEOCODER_URL,
GEOCODER_API_KEY) for suggestions, geocoding and reverse geocoding, and a routingpy
router (ROUTER, ROUTER_URL, ROUTER_API_KEY; or ROUTING_URL, an OSRM service) for the
distance and duration by road.

Each call answers plain values (`{"label", "lat", "lng"}` places, `(km, minutes)`
routes) or raises ProviderError, whatever failed: network, status, quota, answer
shape. The rules around them (cache, fallback) are in realtime_service/maps/service.py.
"""
import functools
import inspect
from urllib.parse import urlsplit

import requests
from geopy import exc as geopy_errors
from geopy.geocoders import get_geocoder_for_service
from routingpy import exceptions as routing_errors
from routingpy.direction import Direction
from routingpy.routers import OSRM, get_router_by_name

# The car profile of each router (routingpy passes profiles through as the API names them).
CAR_PROFILES = {"osrm": "driving", "graphhopper": "car", "valhalla": "auto", "google": "driving",
                "ors": "driving-car", "openrouteservice": "driving-car", "mapbox": "driving",
                "mapbox_osrm": "driving", "here": "car", "heremaps": "car"}
# routingpy's own default for OSRM is the public demo's bicycle profile.
DEFAULT_URLS = {"osrm": "https://routing.openstreetmap.de/routed-car"}
FAILURES = (geopy_errors.GeopyError, routing_errors.RouterError, routing_errors.Timeout,
            routing_errors.JSONParseError, routing_errors.RouterNotFound,
            requests.RequestException, OSError, ValueError, LookupError, TypeError,
            AttributeError)


class ProviderError(Exception):
    """A provider could not answer; the message names the failure, never a key."""


def answers(call):
    """Decorator: any failure of a provider call becomes ProviderError."""

    @functools.wraps(call)
    def wrapper(*args, **kwargs):
        try:
            return call(*args, **kwargs)
        except FAILURES as error:
            raise ProviderError(type(error).__name__) from error

    return wrapper


class LeanOSRM(OSRM):
    """routingpy's OSRM router, asking for no route geometry (`overview=false`): only
    the distance and duration are used, and routingpy's own parser requires one."""

    def directions(self, locations, profile="driving", **kwargs):
        return super().directions(locations, profile, overview=False, **kwargs)

    @staticmethod
    def parse_direction_json(response, alternatives, geometry_format):
        best = response["routes"][0]
        return Direction(geometry=None, duration=float(best["duration"]),
                         distance=float(best["distance"]), raw=response)


def _accepted(cls, **candidates):
    """The `candidates` that are set and that `cls` takes as named parameters (the
    providers differ: `api_key` or `apikey`, with or without `domain`...)."""
    params = inspect.signature(cls.__init__).parameters
    return {name: value for name, value in candidates.items() if value is not None
            and name in params and params[name].kind is not inspect.Parameter.VAR_KEYWORD}


@functools.lru_cache(maxsize=16)
def geocoder(name, url=None, api_key=None, user_agent="ridewire", timeout=2.0):
    """The geopy geocoder of service `name` (e.g. nominatim, photon, google), at `url`
    (scheme and domain, e.g. http://127.0.0.1:8080) when given."""
    cls = get_geocoder_for_service(name)
    scheme = domain = None
    if url:
        parts = urlsplit(url if "://" in url else f"https://{url}")
        scheme, domain = parts.scheme, (parts.netloc + parts.path).rstrip("/")
    return cls(**_accepted(cls, domain=domain, scheme=scheme, api_key=api_key, apikey=api_key,
                           user_agent=user_agent, timeout=timeout))


@functools.lru_cache(maxsize=16)
def router(name, url=None, api_key=None, timeout=2.0):
    """The routingpy router `name` (e.g. osrm, graphhopper, valhalla, google), at `url`
    when given; no retries beyond `timeout` seconds."""
    cls = LeanOSRM if name.lower() == "osrm" else get_router_by_name(name)
    return cls(**_accepted(cls, base_url=url.rstrip("/") if url else None, api_key=api_key,
                           timeout=timeout, retry_timeout=timeout))


def _place(location):
    return {"label": location.address, "lat": float(location.latitude),
            "lng": float(location.longitude)}


@answers
def suggest(service, text, limit):
    """Up to `limit` places matching `text`, best first."""
    options = {"exactly_one": False}
    if "limit" in inspect.signature(service.geocode).parameters:
        options["limit"] = limit
    return [_place(location) for location in (service.geocode(text, **options) or [])[:limit]]


@answers
def geocode(service, address):
    """The best place for `address`, or None when the provider knows none."""
    location = service.geocode(address, exactly_one=True)
    return _place(location) if location else None


@answers
def reverse(service, lat, lng):
    """The address of the point, or None."""
    location = service.reverse((lat, lng), exactly_one=True)
    return _place(location) if location else None


@answers
def route(service, origin, destination, profile):
    """`(km, minutes)` by road between two {"lat", "lng"} points."""
    locations = [[origin["lng"], origin["lat"]], [destination["lng"], destination["lat"]]]
    found = service.directions(locations=locations, profile=profile)
    return float(found.distance) / 1000, float(found.duration) / 60


def configured_geocoder(config):
    """`(geocoder, identity)` from the config, or None without GEOCODER; the identity
    (service and URL) keys its cached answers. A bad setting raises ProviderError."""
    name = config.get("GEOCODER")
    if not name:
        return None
    try:
        service = geocoder(name.lower(), config.get("GEOCODER_URL"),
                           config.get("GEOCODER_API_KEY"), config.get("GEOCODER_USER_AGENT"),
                           config.get("MAPS_TIMEOUT_S", 2.0))
    except FAILURES as error:
        raise ProviderError(type(error).__name__) from error
    return service, [name.lower(), config.get("GEOCODER_URL")]


def configured_router(config):
    """`(router, profile, identity)` from ROUTER (or ROUTING_URL, an OSRM router), or
    None without either. A bad setting raises ProviderError."""
    name, url = config.get("ROUTER"), config.get("ROUTER_URL")
    if not name and config.get("ROUTING_URL"):
        name, url = "osrm", config["ROUTING_URL"]
    if not name:
        return None
    name = name.lower()
    url = url or DEFAULT_URLS.get(name)
    profile = config.get("ROUTER_PROFILE") or CAR_PROFILES.get(name, "car")
    try:
        service = router(name, url, config.get("ROUTER_API_KEY"),
                         config.get("MAPS_TIMEOUT_S", 2.0))
    except FAILURES as error:
        raise ProviderError(type(error).__name__) from error
    return service, profile, [name, url, profile]

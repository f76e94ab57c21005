"""/maps: place suggestions, geocoding and distances, the routes of the Uber clone's
backend. Each parses, calls realtime_service.maps.service and responds; the
provider (or the embedded gazetteer), its key and the cache stay server-side. Every
route counts against one MAPS_RATE_LIMIT per account, since the frontend asks once per
keystroke. Registered only with COMPAT_ROUTES."""
from compat.uber.map_schemas import (
    AddressOut,
    AddressQuery,
    Coordinates,
    CoordinatesQuery,
    DistanceTime,
    DistanceTimeQuery,
    Suggestion,
    SuggestionsQuery,
)
from compat.uber.web import UberBlueprint
from realtime_service.maps import service
from shared.accounts.tokens import auth_required
from shared.ratelimit import limit_maps

uber_maps = UberBlueprint("maps", __name__, url_prefix="/maps",
                   description="Places and distances (the Uber clone's maps routes)")


def maps_route(path, query_schema, response_schema, *errors):
    """A GET route of any account's token, limited per account, parsing its query."""

    def decorator(view):
        for wrap in reversed([
                uber_maps.get(path), auth_required(), limit_maps,
                uber_maps.arguments(query_schema, location="query"),
                uber_maps.response(200, response_schema), uber_maps.errors(*errors, 429)]):
            view = wrap(view)
        return view

    return decorator


@maps_route("/get-suggestions", SuggestionsQuery, Suggestion(many=True))
def suggestions(query):
    """Place suggestions for what was typed.

    At most 5 places for an `input` of at least 3 characters, best first, as a JSON
    array. Each `label` is what to show and to put in the input; it geocodes back to
    the same place."""
    return service.suggest(query["input"])


@maps_route("/get-coordinates", CoordinatesQuery, Coordinates, 404)
def coordinates(query):
    """The coordinates of an address.

    404 `Coordinates not found` when no place matches."""
    return service.geocode(query["address"])


@maps_route("/get-address", AddressQuery, AddressOut, 404)
def address(query):
    """The address of a point (reverse geocoding).

    Without a provider, the nearest known place within 50 km; 404 when there is none."""
    return service.reverse(query["ltd"], query["lng"])


@maps_route("/get-distance-time", DistanceTimeQuery, DistanceTime, 404)
def distance_time(query):
    """The distance and duration by road between two addresses.

    Kilometres and minutes as strings with 2 decimals (the tutorial's shape), from the
    router, or the great-circle distance times the road factor at a car's average
    speed. 404 when an address is unknown."""
    return service.distance_time_between(query["origin"], query["destination"])

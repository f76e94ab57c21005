"""The Uber clone's /rides routes: thin aliases over the same rides
service as /rides/..., taking the ride id in the body or the query and addresses
instead of coordinates, answering the ride itself (with `pickup` and `destination` as
address strings) and a `message` on every error. Registered only with COMPAT_ROUTES.

Their static paths (`/rides/get-fare`, `/rides/start-ride`) win over `/rides/<ride_id>`:
werkzeug matches rules with more static parts first, whatever the registration order.
"""
from compat.uber import service
from compat.uber.schemas import (
    UberFare,
    UberFareQuery,
    UberRide,
    UberRideId,
    UberRideRequest,
    UberStartQuery,
)
from compat.uber.web import UberBlueprint, bearer_only
from realtime_service.rides.routes import RIDE_REQUEST_SCOPE
from realtime_service.rides.service import accept, end, start
from shared.accounts.roles import Role
from shared.accounts.tokens import auth_required, current_account
from shared.ratelimit import limit_maps, limit_per_account

uber_routes = UberBlueprint("uber_rides", __name__, url_prefix="/rides",
                    description="The Uber clone's ride routes")


def me():
    return current_account()["_id"]


@uber_routes.get("/get-fare")
@auth_required(Role.USER)
@limit_maps
@uber_routes.arguments(UberFareQuery, location="query")
@uber_routes.response(200, UberFare)
@uber_routes.errors(404, 429)
def get_fare(query):
    """Fares between two addresses (Uber clone).

    Both addresses are geocoded (404 `Coordinates not found` when one is unknown); the
    fares are those of GET /rides/fare, keyed `auto`, `car` and `moto` (motorcycle)."""
    return service.fares_between(query["pickup"], query["destination"])


@uber_routes.post("/create")
@auth_required(Role.USER)
@limit_per_account("RIDE_REQUEST_RATE_LIMIT", RIDE_REQUEST_SCOPE)
@limit_maps
@uber_routes.arguments(UberRideRequest)
@uber_routes.response(201, UberRide)
@uber_routes.errors(404, 409, 429)
def create(data):
    """Request a ride between two addresses (Uber clone).

    POST /rides with the addresses geocoded server-side (404 when one is unknown) and
    `moto` for motorcycle, within the same RIDE_REQUEST_RATE_LIMIT and MAPS_RATE_LIMIT
    (429). The answer is the ride, with its OTP."""
    return service.request_between(me(), data["pickup"], data["destination"],
                                      data["vehicleType"])


@uber_routes.post("/confirm")
@auth_required(Role.CAPTAIN)
@uber_routes.arguments(UberRideId)
@uber_routes.response(200, UberRide)
@uber_routes.errors(404, 409)
def confirm(data):
    """Accept a ride request (Uber clone).

    POST /rides/{ride_id}/accept: the captain is the caller, whatever `captainId` says."""
    return accept(data["rideId"], current_account())


@uber_routes.get("/start-ride")
@bearer_only
@auth_required(Role.CAPTAIN)
@uber_routes.arguments(UberStartQuery, location="query")
@uber_routes.response(200, UberRide)
@uber_routes.errors(404, 409, 429)
def start_ride(query):
    """Start a ride with the rider's OTP (Uber clone).

    POST /rides/{ride_id}/start as a GET. The token must be in the Authorization header
    (401 with the cookie alone), since a GET is what any page can make a browser send.
    The query string is never logged."""
    return start(query["rideId"], me(), query["otp"])


@uber_routes.post("/end-ride")
@auth_required(Role.CAPTAIN)
@uber_routes.arguments(UberRideId)
@uber_routes.response(200, UberRide)
@uber_routes.errors(404, 409)
def end_ride(data):
    """End a ride (Uber clone).

    POST /rides/{ride_id}/end."""
    return end(data["rideId"], me())

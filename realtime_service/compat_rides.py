"""The Uber clone's /rides routes (COMPAT.md 1.2-1.3): thin aliases over the same rides
service as /rides/..., taking the ride id in the body or the query and addresses
instead of coordinates, answering the ride itself (with `pickup` and `destination` as
address strings) and a `message` on every error. Registered only with COMPAT_ROUTES.

Their static paths (`/rides/get-fare`, `/rides/start-ride`) win over `/rides/<ride_id>`:
werkzeug matches rules with more static parts first, whatever the registration order.
"""
from realtime_service.ride_schemas import UberRide
from realtime_service.rides import RIDE_REQUEST_SCOPE
from realtime_service.services import rides, uber_rides
from realtime_service.uber_schemas import (
    UberFare,
    UberFareQuery,
    UberRideId,
    UberRideRequest,
    UberStartQuery,
)
from realtime_service.uber_web import MAPS_RATE_SCOPE, UberBlueprint, bearer_only
from shared.ratelimit import limit_per_account
from shared.roles import Role
from shared.tokens import auth_required, current_account

bp = UberBlueprint("uber_rides", __name__, url_prefix="/rides",
                   description="The Uber clone's ride routes")


def me():
    return current_account()["_id"]


@bp.get("/get-fare")
@auth_required(Role.USER)
@limit_per_account("MAPS_RATE_LIMIT", MAPS_RATE_SCOPE)
@bp.arguments(UberFareQuery, location="query")
@bp.response(200, UberFare)
@bp.errors(404, 429)
def get_fare(query):
    """Fares between two addresses (Uber clone).

    Both addresses are geocoded (404 `Coordinates not found` when one is unknown); the
    fares are those of GET /rides/fare, keyed `auto`, `car` and `moto` (motorcycle)."""
    return uber_rides.fares_between(query["pickup"], query["destination"])


@bp.post("/create")
@auth_required(Role.USER)
@limit_per_account("RIDE_REQUEST_RATE_LIMIT", RIDE_REQUEST_SCOPE)
@bp.arguments(UberRideRequest)
@bp.response(201, UberRide)
@bp.errors(404, 409, 429)
def create(data):
    """Request a ride between two addresses (Uber clone).

    POST /rides with the addresses geocoded server-side (404 when one is unknown) and
    `moto` for motorcycle, within the same RIDE_REQUEST_RATE_LIMIT (429). The answer is
    the ride, with its OTP."""
    return uber_rides.request_between(me(), data["pickup"], data["destination"],
                                      data["vehicleType"])


@bp.post("/confirm")
@auth_required(Role.CAPTAIN)
@bp.arguments(UberRideId)
@bp.response(200, UberRide)
@bp.errors(404, 409)
def confirm(data):
    """Accept a ride request (Uber clone).

    POST /rides/{ride_id}/accept: the captain is the caller, whatever `captainId` says."""
    return rides.accept(data["rideId"], current_account())


@bp.get("/start-ride")
@bearer_only
@auth_required(Role.CAPTAIN)
@bp.arguments(UberStartQuery, location="query")
@bp.response(200, UberRide)
@bp.errors(404, 409, 429)
def start_ride(query):
    """Start a ride with the rider's OTP (Uber clone).

    POST /rides/{ride_id}/start as a GET. The token must be in the Authorization header
    (401 with the cookie alone), since a GET is what any page can make a browser send.
    The query string is never logged."""
    return rides.start(query["rideId"], me(), query["otp"])


@bp.post("/end-ride")
@auth_required(Role.CAPTAIN)
@bp.arguments(UberRideId)
@bp.response(200, UberRide)
@bp.errors(404, 409)
def end_ride(data):
    """End a ride (Uber clone).

    POST /rides/{ride_id}/end."""
    return rides.end(data["rideId"], me())

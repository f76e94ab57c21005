"""/rides: fare estimates, ride requests and the ride's life (accept or decline an
offer, start, end, cancel), and the rides of the caller. Each route parses, calls
realtime_service.rides.service and responds."""
from realtime_service.rides import service
from realtime_service.rides.schemas import (
    DeclineResponse,
    FareQuerySchema,
    FareResponse,
    HistoryQuerySchema,
    RideCreatedResponse,
    RidePageResponse,
    RideRequestSchema,
    RideResponse,
    StartSchema,
)
from shared.accounts.roles import Role
from shared.accounts.tokens import auth_required, current_account, current_role
from shared.idempotency.decorator import idempotent
from shared.ratelimit import limit_maps, limit_per_account
from shared.validation import object_id
from shared.web import Blueprint

ride_routes = Blueprint("rides", __name__, url_prefix="/rides",
               description="Fare estimates, ride requests and the ride's life")

RIDE_REQUEST_SCOPE = "ride-requests"  # one RIDE_REQUEST_RATE_LIMIT budget with /rides/create


def me():
    return current_account()["_id"]


@ride_routes.get("/fare")
@auth_required(Role.USER)
@limit_maps
@ride_routes.arguments(FareQuerySchema, location="query")
@ride_routes.response(200, FareResponse)
@ride_routes.errors(429)
def fare(query):
    """Fare estimates for every vehicle type.

    The distance is the great-circle distance times the road factor, the duration comes
    from each type's average speed (or both from the configured routing service).
    `durationMin` is the longest of the per-type `durations`. Within MAPS_RATE_LIMIT
    (429), the budget of every route that may ask a maps provider."""
    pickup = {"lat": query["pickupLat"], "lng": query["pickupLng"]}
    destination = {"lat": query["destinationLat"], "lng": query["destinationLng"]}
    return service.fare_estimate(pickup, destination)


@ride_routes.post("")
@auth_required(Role.USER)
@limit_per_account("RIDE_REQUEST_RATE_LIMIT", RIDE_REQUEST_SCOPE)
@limit_maps
@idempotent
@ride_routes.arguments(RideRequestSchema)
@ride_routes.response(201, RideCreatedResponse)
@ride_routes.errors(409, 429)
def request_ride(data):
    """Request a ride.

    Creates a pending ride (with its OTP, shown to you only) and offers it in rounds:
    `new-ride` (with `offer.expiresAt`) to the DISPATCH_BATCH available captains of
    that vehicle type quickest to reach the pickup, the next ones when they decline or
    OFFER_SECONDS pass; you get `ride-searching` per round. With no captain left to
    offer it to, the search looks again every OFFER_SECONDS; `ride-expired` when no
    captain accepted within DISPATCH_TIMEOUT_SECONDS. `dispatchedTo` is how many
    captains the first round offered it to (0: none yet, the ride stays `pending`). A rider
    has at most one open ride (409), and at most RIDE_REQUEST_RATE_LIMIT requests
    (429, with POST /rides/create); each counts against MAPS_RATE_LIMIT too (the trip
    is routed)."""
    ride, dispatched = service.request_ride(me(), data["pickup"], data["destination"],
                                          data["vehicleType"])
    return {"ride": ride, "dispatchedTo": dispatched}


@ride_routes.get("")
@auth_required()
@ride_routes.arguments(HistoryQuerySchema, location="query")
@ride_routes.response(200, RidePageResponse)
def history(query):
    """My rides, newest first.

    The rides of the calling rider or captain (of one `status`, if given). Pass `next`
    as `before` for the following page."""
    page, cursor = service.history(me(), current_role(), query["limit"], query["before"],
                                 query["status"])
    return {"rides": page, "next": cursor}


@ride_routes.get("/<ride_id>")
@auth_required()
@ride_routes.response(200, RideResponse)
@ride_routes.errors(400, 404)
def get_ride(ride_id):
    """One of my rides.

    A ride of which the caller is the rider or the captain; 404 for anyone else."""
    return {"ride": service.get_ride(object_id(ride_id), me(), current_role())}


@ride_routes.post("/<ride_id>/accept")
@auth_required(Role.CAPTAIN)
@ride_routes.response(200, RideResponse)
@ride_routes.errors(400, 404, 409)
def accept(ride_id):
    """Accept a ride request.

    Take a pending ride of which you hold a live offer; you and the rider get
    `ride-confirmed` (the rider's with the OTP), the other captains offered it
    `ride-taken`. Exactly one captain wins, the others get 409, and so does a captain
    whose offer expired or who declined it, who is inactive or who already has an
    accepted or ongoing ride; 404 when it was never offered to you."""
    return {"ride": service.accept(object_id(ride_id), current_account())}


@ride_routes.post("/<ride_id>/decline")
@auth_required(Role.CAPTAIN)
@ride_routes.response(200, DeclineResponse)
@ride_routes.errors(400, 404, 409)
def decline(ride_id):
    """Decline a ride request.

    Give up your live offer of a pending ride; once every captain of the round has
    declined, the ride is offered to the next ones at once. 409 when your offer has
    ended (expired, declined, or the ride is no longer pending); 404 when it was never
    offered to you."""
    return service.decline(object_id(ride_id), me())


@ride_routes.post("/<ride_id>/start")
@auth_required(Role.CAPTAIN)
@ride_routes.arguments(StartSchema)
@ride_routes.response(200, RideResponse)
@ride_routes.errors(404, 409, 429)
def start(data, ride_id):
    """Start a ride.

    Start your accepted ride with the OTP the rider tells you; both get
    `ride-started`. A wrong OTP is a 400; after 5 wrong ones the ride refuses further
    tries (429) but stays accepted."""
    return {"ride": service.start(object_id(ride_id), me(), data["otp"])}


@ride_routes.post("/<ride_id>/end")
@auth_required(Role.CAPTAIN)
@ride_routes.response(200, RideResponse)
@ride_routes.errors(400, 404, 409)
def end(ride_id):
    """End a ride.

    Complete your ongoing ride; both parties get `ride-ended`."""
    return {"ride": service.end(object_id(ride_id), me())}


@ride_routes.post("/<ride_id>/cancel")
@auth_required()
@ride_routes.response(200, RideResponse)
@ride_routes.errors(400, 404, 409)
def cancel(ride_id):
    """Cancel a ride.

    Cancel a pending or accepted ride, as its rider or its captain; both parties get
    `ride-cancelled`, and so do the captains that were sent a still pending request."""
    return {"ride": service.cancel(object_id(ride_id), me(), current_role())}

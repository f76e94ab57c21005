"""Ride routes (/rides): fare estimates, requests dispatched to nearby captains, and the
ride's life: accept, start with the rider's OTP, end, cancel."""
import hmac

from flask import Blueprint, current_app, g
from marshmallow import ValidationError, fields, pre_load, validate

from realtime_service import dispatch
from shared.errors import ApiError
from shared.fares import estimate, estimate_for
from shared.models import rides
from shared.openapi import doc
from shared.tokens import auth_required, current_account
from shared.validation import Schema, json_body, load, load_query, object_id

bp = Blueprint("rides", __name__, url_prefix="/rides")

LAT = validate.Range(min=-90, max=90, error="Latitude must be between -90 and 90")
LNG = validate.Range(min=-180, max=180, error="Longitude must be between -180 and 180")


def known_vehicle_type(value):
    if value not in current_app.config["FARES"]:
        kinds = ", ".join(current_app.config["FARES"])
        raise ValidationError(f"Vehicle type must be one of: {kinds}")


class PlaceSchema(Schema):
    lat = fields.Float(required=True, validate=LAT)
    lng = fields.Float(required=True, validate=LNG)
    address = fields.String(load_default="", validate=validate.Length(max=300))

    @pre_load
    def accept_ltd(self, data, **kwargs):
        """The tutorials spell latitude `ltd`."""
        if isinstance(data, dict) and "lat" not in data and "ltd" in data:
            data = {**data, "lat": data["ltd"]}
        return data


class FareQuerySchema(Schema):
    pickupLat = fields.Float(required=True, validate=LAT)
    pickupLng = fields.Float(required=True, validate=LNG)
    destinationLat = fields.Float(required=True, validate=LAT)
    destinationLng = fields.Float(required=True, validate=LNG)


class FareSchema(Schema):
    fares = fields.Dict(keys=fields.String(), values=fields.Integer())
    distanceKm = fields.Float()
    durationMin = fields.Float()
    durations = fields.Dict(keys=fields.String(), values=fields.Float())


class RideRequestSchema(Schema):
    pickup = fields.Nested(PlaceSchema, required=True)
    destination = fields.Nested(PlaceSchema, required=True)
    vehicleType = fields.String(required=True, validate=known_vehicle_type)


class StartSchema(Schema):
    otp = fields.String(required=True, validate=validate.Regexp(
        r"^\d{6}$", error="OTP must be 6 digits"))

    @pre_load
    def accept_number(self, data, **kwargs):
        """A JSON number loses leading zeros; put them back."""
        if isinstance(data, dict) and isinstance(data.get("otp"), int) \
                and not isinstance(data.get("otp"), bool):
            data = {**data, "otp": f"{data['otp']:06d}"}
        return data


class HistoryQuerySchema(Schema):
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    before = fields.String(load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf(
        ["pending", "accepted", "ongoing", "completed", "cancelled"]))


class RideSchema(Schema):
    _id = fields.String()
    user = fields.Raw()
    captain = fields.Raw(allow_none=True)
    pickup = fields.Nested(PlaceSchema)
    destination = fields.Nested(PlaceSchema)
    vehicleType = fields.String()
    fare = fields.Integer()
    distanceKm = fields.Float()
    durationMin = fields.Float()
    status = fields.String()
    otp = fields.String(metadata={"description": "only for the ride's rider"})
    createdAt = fields.String()
    acceptedAt = fields.String()
    startedAt = fields.String()
    completedAt = fields.String()
    cancelledAt = fields.String()


class RideResponseSchema(Schema):
    ride = fields.Nested(RideSchema)


class RideCreatedSchema(RideResponseSchema):
    dispatchedTo = fields.Integer()


class RideListSchema(Schema):
    rides = fields.List(fields.Nested(RideSchema))
    next = fields.String(allow_none=True)


def me():
    return current_account()["_id"]


@bp.get("/fare")
@auth_required("user")
@doc(query=FareQuerySchema, responses={200: FareSchema, 400: None, 401: None, 403: None},
     auth="user", summary="Fare estimates for every vehicle type")
def fare():
    """Estimate distance, duration and the fare of each vehicle type for a trip: the
    great-circle distance times the road factor and per-type average speeds, or the
    route of the configured routing service. `durationMin` is the longest of the
    per-type `durations`."""
    query = load_query(FareQuerySchema())
    pickup = {"lat": query["pickupLat"], "lng": query["pickupLng"]}
    destination = {"lat": query["destinationLat"], "lng": query["destinationLng"]}
    config = current_app.config
    return estimate(pickup, destination, config["FARES"], config["ROAD_FACTOR"],
                    config["ROUTING_URL"])


@bp.post("")
@auth_required("user")
@doc(body=RideRequestSchema, responses={201: RideCreatedSchema, 400: None, 409: None},
     auth="user", summary="Request a ride")
def request_ride():
    """Create a pending ride and send `new-ride` to the nearby active, connected captains
    of that vehicle type, nearest first. A rider has at most one open ride (409)."""
    data = load(RideRequestSchema(), json_body())
    config = current_app.config
    trip = estimate_for(data["pickup"], data["destination"], data["vehicleType"],
                        config["FARES"], config["ROAD_FACTOR"], config["ROUTING_URL"])
    captains = dispatch.nearby_captains(data["pickup"], data["vehicleType"])
    ride = rides.create(me(), data["pickup"], data["destination"], data["vehicleType"], trip,
                        captains)
    dispatch.record(ride, "ride-requested", dispatchedTo=len(captains))
    # Every dispatched captain sees the same OTP-free ride.
    dispatch.to_captains(captains, "new-ride", rides.present(ride, viewer_id=None))
    return {"ride": rides.present(ride, me()), "dispatchedTo": len(captains)}, 201


@bp.get("")
@auth_required("any")
@doc(query=HistoryQuerySchema, responses={200: RideListSchema, 400: None}, auth="any",
     summary="My rides, newest first")
def history():
    """The rides of the calling rider or captain, newest first; `next` is the `before`
    cursor of the following page (null on the last one)."""
    query = load_query(HistoryQuerySchema())
    before = object_id(query["before"], "before", "query") if query["before"] else None
    page, next_cursor = rides.history(me(), g.role, query["limit"], before, query["status"])
    return {"rides": rides.present_many(page, me()), "next": next_cursor}


@bp.get("/<ride_id>")
@auth_required("any")
@doc(responses={200: RideResponseSchema, 400: None, 404: None}, auth="any",
     summary="One of my rides")
def get_ride(ride_id):
    """A ride of which the caller is the rider or the captain (404 for anyone else)."""
    ride = rides.find_for_party(object_id(ride_id), me(), g.role)
    return {"ride": rides.present(ride, me())}


@bp.post("/<ride_id>/accept")
@auth_required("captain")
@doc(responses={200: RideResponseSchema, 400: None, 404: None, 409: None}, auth="captain",
     summary="Accept a ride request")
def accept(ride_id):
    """Take a pending ride that was dispatched to you. Exactly one captain wins; the others
    get 409, and so does a captain who already has an accepted or ongoing ride."""
    ride_id = object_id(ride_id)
    if current_account().get("status") != "active":
        raise ApiError(409, "Go active to accept rides")
    if rides.open_ride_of_captain(me()) is not None:
        raise ApiError(409, "You already have an open ride")
    ride = rides.accept(ride_id, me())
    dispatch.record(ride, "ride-accepted")
    dispatch.to_parties(ride, "ride-confirmed")
    others = [captain for captain in ride["dispatched"] if captain != me()]
    dispatch.to_captains(others, "ride-taken", {"rideId": str(ride["_id"])})
    return {"ride": rides.present(ride, me())}


@bp.post("/<ride_id>/start")
@auth_required("captain")
@doc(body=StartSchema, responses={200: RideResponseSchema, 400: None, 404: None, 409: None,
                                  429: None}, auth="captain", summary="Start a ride")
def start(ride_id):
    """Start your accepted ride with the OTP the rider tells you. A wrong OTP is a 400;
    after 5 wrong ones the ride refuses further tries (429) but stays accepted."""
    ride = rides.find_for_party(object_id(ride_id), me(), "captain")
    otp = load(StartSchema(), json_body())["otp"]
    rides.require_status(ride, ["accepted"], "start")
    if ride["otpFailures"] >= rides.MAX_OTP_FAILURES:
        raise ApiError(429, "Too many wrong OTPs for this ride")
    if not hmac.compare_digest(otp.encode(), ride["otp"].encode()):
        if not rides.record_otp_failure(ride["_id"]):
            raise ApiError(429, "Too many wrong OTPs for this ride")
        raise ApiError(400, "Invalid OTP")
    started = rides.transition(
        {"_id": ride["_id"], "status": "accepted",
         "otpFailures": {"$lt": rides.MAX_OTP_FAILURES}}, "ongoing")
    if started is None:  # cancelled or locked meanwhile
        raise ApiError(409, "Ride can no longer be started")
    dispatch.record(started, "ride-started")
    dispatch.to_parties(started, "ride-started")
    return {"ride": rides.present(started, me())}


@bp.post("/<ride_id>/end")
@auth_required("captain")
@doc(responses={200: RideResponseSchema, 400: None, 404: None, 409: None}, auth="captain",
     summary="End a ride")
def end(ride_id):
    """Complete your ongoing ride."""
    ride = rides.find_for_party(object_id(ride_id), me(), "captain")
    rides.require_status(ride, ["ongoing"], "end")
    ended = rides.transition({"_id": ride["_id"], "status": "ongoing"}, "completed")
    if ended is None:
        raise ApiError(409, "Ride is no longer ongoing")
    dispatch.record(ended, "ride-completed")
    dispatch.to_parties(ended, "ride-ended")
    return {"ride": rides.present(ended, me())}


@bp.post("/<ride_id>/cancel")
@auth_required("any")
@doc(responses={200: RideResponseSchema, 400: None, 404: None, 409: None}, auth="any",
     summary="Cancel a ride")
def cancel(ride_id):
    """Cancel a pending or accepted ride, as its rider or its captain. Captains that were
    sent the request and did not take it get `ride-cancelled` too."""
    ride = rides.find_for_party(object_id(ride_id), me(), g.role)
    rides.require_status(ride, ["pending", "accepted"], "cancel")
    cancelled = rides.transition(
        {"_id": ride["_id"], "status": {"$in": ["pending", "accepted"]}}, "cancelled",
        cancelledBy=g.role)
    if cancelled is None:
        raise ApiError(409, "Ride can no longer be cancelled")
    dispatch.record(cancelled, "ride-cancelled", by=g.role)
    dispatch.to_parties(cancelled, "ride-cancelled")
    if cancelled["captain"] is None:  # still pending: tell the captains who were asked
        dispatch.to_captains(cancelled["dispatched"], "ride-cancelled",
                             rides.present(cancelled, viewer_id=None))
    return {"ride": rides.present(cancelled, me())}

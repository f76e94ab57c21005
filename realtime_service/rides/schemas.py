"""Request and response schemas of /rides and of the ride events: the schema that loads
a request validates it; `Ride` dumps a ride (the HTTP answers and every push) and is
the allow-list of what a client sees of it."""
from flask import current_app
from marshmallow import ValidationError, fields, pre_load, validate

from shared.schemas import CaptainProfile, CursorQuery, Id, PublicProfile, Schema, Timestamp

STATUSES = ("pending", "accepted", "ongoing", "completed", "cancelled", "expired")
LAT = validate.Range(min=-90, max=90, error="Latitude must be between -90 and 90")
LNG = validate.Range(min=-180, max=180, error="Longitude must be between -180 and 180")


def known_vehicle_type(value):
    """One of the vehicle types of the configured fare table."""
    if value not in current_app.config["FARES"]:
        kinds = ", ".join(current_app.config["FARES"])
        raise ValidationError(f"Vehicle type must be one of: {kinds}")


class PlaceSchema(Schema):
    """A point with an optional address; `ltd` is accepted for `lat` (a spelling
    some frontends send, as `update-location-captain` accepts it:
    realtime_service.rides.locations.read_location)."""

    lat = fields.Float(required=True, validate=LAT)
    lng = fields.Float(required=True, validate=LNG)
    address = fields.String(load_default="", validate=validate.Length(max=300))

    @pre_load
    def accept_ltd(self, data, **kwargs):
        if isinstance(data, dict) and "lat" not in data and "ltd" in data:
            data = {**data, "lat": data["ltd"]}
        return data


class FareQuerySchema(Schema):
    pickupLat = fields.Float(required=True, validate=LAT)
    pickupLng = fields.Float(required=True, validate=LNG)
    destinationLat = fields.Float(required=True, validate=LAT)
    destinationLng = fields.Float(required=True, validate=LNG)


class RideRequestSchema(Schema):
    pickup = fields.Nested(PlaceSchema, required=True)
    destination = fields.Nested(PlaceSchema, required=True)
    vehicleType = fields.String(required=True, validate=known_vehicle_type,
                                metadata={"description": "a type of the fare table: "
                                          "car, motorcycle or auto by default"})


class StartSchema(Schema):
    otp = fields.String(required=True, validate=validate.Regexp(
        r"^\d{6}$", error="OTP must be 6 digits"), metadata={"examples": ["042917"]})

    @pre_load
    def accept_number(self, data, **kwargs):
        """A JSON number loses leading zeros; put them back."""
        otp = data.get("otp") if isinstance(data, dict) else None
        if isinstance(otp, int) and not isinstance(otp, bool):
            data = {**data, "otp": f"{otp:06d}"}
        return data


class HistoryQuerySchema(CursorQuery):
    status = fields.String(load_default=None, validate=validate.OneOf(
        STATUSES, error="Status must be one of: " + ", ".join(STATUSES)))


# Responses and events.

class FareResponse(Schema):
    fares = fields.Dict(keys=fields.String(), values=fields.Integer(),
                        metadata={"description": "fare per vehicle type"})
    distanceKm = fields.Float()
    durationMin = fields.Float(metadata={"description": "the longest of `durations`"})
    durations = fields.Dict(keys=fields.String(), values=fields.Float(),
                            metadata={"description": "minutes per vehicle type"})


class Offer(Schema):
    id = fields.String(metadata={"description": "this offer (the ride and its round): what "
                                                "the captain's client acknowledges with "
                                                "`offer-received`"})
    expiresAt = Timestamp(metadata={"description": "accept before this, or the ride moves "
                                                   "on to other captains"})


class OfferReceived(Schema):
    offerId = fields.String(required=True, validate=validate.Length(max=64))


class Ride(Schema):
    _id = Id()
    user = fields.Nested(PublicProfile)
    captain = fields.Nested(CaptainProfile, allow_none=True,
                            metadata={"description": "null until accepted"})
    pickup = fields.Nested(PlaceSchema)
    destination = fields.Nested(PlaceSchema)
    vehicleType = fields.String()
    fare = fields.Integer()
    distanceKm = fields.Float()
    durationMin = fields.Float()
    status = fields.String(metadata={"enum": list(STATUSES)})
    otp = fields.String(metadata={"description": "only to the ride's own rider"})
    cancelledBy = fields.String(metadata={"enum": ["user", "captain"],
                                          "description": "once cancelled"})
    createdAt = Timestamp()
    acceptedAt = Timestamp()
    startedAt = Timestamp()
    completedAt = Timestamp()
    cancelledAt = Timestamp()
    expiredAt = Timestamp(metadata={"description": "once no captain accepted it"})
    offer = fields.Nested(Offer, metadata={
        "description": "only in `new-ride`: the captain's offer"})


# The payload schema of rides requested by a client whose frontend renders them its own
# way (`client` of the stored ride); `Ride` for the others. A compatibility layer adds
# its own with `add_ride_view`.
RIDE_VIEWS = {}


def add_ride_view(client, schema):
    """Dump the rides that `client` requested with `schema` (a `Ride` subclass)."""
    RIDE_VIEWS[client] = schema()


class RideResponse(Schema):
    ride = fields.Nested(Ride)


class RideCreatedResponse(RideResponse):
    dispatchedTo = fields.Integer(metadata={"description": "captains sent `new-ride`"})


class RidePageResponse(Schema):
    rides = fields.List(fields.Nested(Ride))
    next = fields.String(allow_none=True, metadata={
        "description": "`before` of the next page, null on the last one"})


class RideNotice(Schema):
    """`ride-taken` (to the other captains offered the ride that was accepted),
    `ride-offer-expired` (to the captains of a round that ended), `ride-expired` (to
    the rider of a ride no captain accepted)."""

    rideId = Id()


class RideSearching(Schema):
    """`ride-searching`: to the rider, once per offer round."""

    rideId = Id()
    round = fields.Integer(metadata={"description": "1 for the first round"})
    offered = fields.Integer(metadata={"description": "captains offered the ride this round"})


class DeclineResponse(Schema):
    rideId = Id()

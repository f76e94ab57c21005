"""Request and response schemas of the Uber clone's /rides aliases; its rides (stored
with `client: "uber"`) are dumped with `UberRide` in every answer and push."""
from marshmallow import fields

from compat.uber.map_schemas import text_field
from realtime_service.rides.schemas import PlaceSchema, Ride, StartSchema, known_vehicle_type
from shared.accounts.vehicles import VehicleTypeAliases
from shared.schemas import Id, Schema


class UberFareQuery(Schema):
    pickup = text_field("Pickup")
    destination = text_field("Destination")


class UberFare(Schema):
    """The fare of each vehicle type, keyed as the Uber clone's vehicle panel reads them."""

    auto = fields.Integer()
    car = fields.Integer()
    moto = fields.Integer(attribute="motorcycle", metadata={"description": "motorcycle"})


class UberRideRequest(VehicleTypeAliases, Schema):
    pickup = text_field("Pickup")
    destination = text_field("Destination")
    vehicleType = fields.String(required=True, validate=known_vehicle_type, metadata={
        "description": "auto, car or moto (motorcycle): a type of the fare table"})



class UberRideId(Schema):
    """`{rideId}`; the Uber clone also sends `captainId`, which is ignored (the captain
    is the caller)."""

    rideId = Id(required=True)


class UberStartQuery(UberRideId, StartSchema):
    pass


class UberRide(Ride):
    """A ride requested through the Uber clone's POST /rides/create (stored with
    `client: "uber"`), in every answer and push about it: that frontend renders
    `pickup` and `destination` as text, so they are the address strings here, and the
    places are `pickupLocation` and `destinationLocation`."""

    pickup = fields.String(attribute="pickup.address", dump_only=True)
    destination = fields.String(attribute="destination.address", dump_only=True)
    pickupLocation = fields.Nested(PlaceSchema, attribute="pickup", dump_only=True)
    destinationLocation = fields.Nested(PlaceSchema, attribute="destination", dump_only=True)


UBER = "uber"  # the `client` marker of rides requested through the Uber clone's routes

"""Request and response schemas of the Uber clone's /rides aliases (COMPAT.md 1.2-1.3).
Its rides are dumped with `UberRide` (realtime_service/rides/schemas.py)."""
from marshmallow import fields

from compat.uber.map_schemas import text_field
from realtime_service.rides.schemas import StartSchema, known_vehicle_type
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

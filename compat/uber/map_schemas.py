"""Request and response schemas of /maps (the Uber clone's maps routes)."""
from decimal import ROUND_HALF_UP, Decimal

from marshmallow import ValidationError, fields, pre_load

from realtime_service.rides.schemas import LAT, LNG
from shared.schemas import Schema

TEXT_MAX = 300


def text_field(name, low=3):
    """A required query text of `low`-TEXT_MAX characters (surrounding spaces ignored)."""
    message = f"{name} must be {low}-{TEXT_MAX} characters long"

    def check(value):
        if not low <= len(value.strip()) <= TEXT_MAX:
            raise ValidationError(message)

    return fields.String(required=True, validate=check,
                         error_messages={"required": message, "invalid": message})


class SuggestionsQuery(Schema):
    input = text_field("Input")


class CoordinatesQuery(Schema):
    address = text_field("Address")


class DistanceTimeQuery(Schema):
    origin = text_field("Origin")
    destination = text_field("Destination")


class AddressQuery(Schema):
    """A point; `lat` is accepted for `ltd`."""

    ltd = fields.Float(required=True, validate=LAT)
    lng = fields.Float(required=True, validate=LNG)

    @pre_load
    def accept_lat(self, data, **kwargs):
        if "ltd" not in data and "lat" in data:
            data = {**data, "ltd": data["lat"]}
        return data


class Suggestion(Schema):
    label = fields.String(metadata={"description": "shown, and copied into the input"})
    latitude = fields.Float(attribute="lat")
    longitude = fields.Float(attribute="lng")


class Coordinates(Schema):
    ltd = fields.Float(attribute="lat", metadata={"description": "latitude"})
    lng = fields.Float()


class AddressOut(Coordinates):
    address = fields.String(attribute="label")


class TwoDecimals(fields.String):
    """A number dumped as a string with 2 decimals, rounded half up (4.2 -> "4.20")."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return str(Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def two_decimals(attribute, description):
    return TwoDecimals(attribute=attribute, metadata={"description": description,
                                                      "examples": ["4.20"]})


class DistanceTime(Schema):
    distance = two_decimals("distanceKm", "kilometres, 2 decimals")
    duration = two_decimals("durationMin", "minutes, 2 decimals")

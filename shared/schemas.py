"""The building blocks of every request and response schema.

- `Schema`: unknown request fields are ignored (frontends send extra keys); on
  dump, only declared fields are ever sent.
- `Id`: an ObjectId in, a 24-hex string out. `Timestamp`: ISO 8601 UTC with
  milliseconds and `Z`, like JavaScript's `Date.toJSON()`.
- `Error`, `ValidationErrors`, `Message`: the error and message shapes of the API.
- `PublicProfile`, `CaptainProfile`: what another account sees of an account (never
  its email, location or token state).
- `CursorQuery`: the query of the one pager (shared.storage.cursor_page; newest first,
  `before` = the `next` of the previous page).
"""
from datetime import UTC, datetime

from bson import ObjectId
from bson.errors import InvalidId
from marshmallow import EXCLUDE, fields, validate
from marshmallow import Schema as _Schema


class Schema(_Schema):
    class Meta:
        unknown = EXCLUDE


def iso(value):
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Id(fields.Field):
    """A 24-hex ObjectId string: loads to an ObjectId, dumps ObjectIds as strings."""

    default_error_messages = {"invalid": "Invalid id"}

    def __init__(self, **kwargs):
        metadata = {"type": "string", "pattern": "^[0-9a-fA-F]{24}$",
                    **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else str(value)

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return ObjectId(value)
        except (InvalidId, TypeError):
            raise self.make_error("invalid") from None


class Timestamp(fields.DateTime):
    def _serialize(self, value, attr, obj, **kwargs):
        if isinstance(value, datetime):
            return iso(value)
        return value


class Error(Schema):
    message = fields.String(required=True)


class ValidationError(Schema):
    msg = fields.String(required=True)
    param = fields.String(required=True, metadata={"examples": ["fullname.firstname"]})
    location = fields.String(required=True, validate=validate.OneOf(["body", "query",
                                                                     "params", "headers"]))


class ValidationErrors(Schema):
    errors = fields.List(fields.Nested(ValidationError), required=True)


class FullnameOut(Schema):
    firstname = fields.String()
    lastname = fields.String()


class VehicleOut(Schema):
    color = fields.String()
    plate = fields.String()
    capacity = fields.Integer()
    vehicleType = fields.String()


class PublicProfile(Schema):
    _id = Id()
    fullname = fields.Nested(FullnameOut)
    profilePic = fields.String(allow_none=True)
    bio = fields.String()


class CaptainProfile(PublicProfile):
    vehicle = fields.Nested(VehicleOut)


class Message(Schema):
    message = fields.String()


class Success(Schema):
    success = fields.Boolean()


def limit_field(default):
    return fields.Integer(
        load_default=default,
        validate=validate.Range(min=1, max=100, error="Limit must be between 1 and 100"),
        error_messages={"invalid": "Limit must be between 1 and 100"},
    )


class CursorQuery(Schema):
    """`?limit=` (1-100) and `?before=` (the `next` of the previous page)."""

    limit = limit_field(20)
    before = Id(load_default=None, metadata={
        "description": "the `next` cursor of the previous page"})

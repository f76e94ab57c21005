"""Response shapes of the auth service, for the OpenAPI spec (the handlers build the
JSON themselves through `accounts.public()` and `activity.public()`)."""
from marshmallow import fields

from shared.validation import Schema


class FullnameOut(Schema):
    firstname = fields.String()
    lastname = fields.String()


class VehicleOut(Schema):
    color = fields.String()
    plate = fields.String()
    capacity = fields.Integer()
    vehicleType = fields.String()


class UserOut(Schema):
    _id = fields.String()
    fullname = fields.Nested(FullnameOut)
    email = fields.String()
    bio = fields.String()
    profilePic = fields.String(allow_none=True)
    socketId = fields.String(allow_none=True)
    createdAt = fields.DateTime()
    updatedAt = fields.DateTime()


class CaptainOut(UserOut):
    vehicle = fields.Nested(VehicleOut)
    status = fields.String()
    location = fields.Dict(allow_none=True, metadata={"description": "GeoJSON Point"})


class UserResponse(Schema):
    user = fields.Nested(UserOut)


class CaptainResponse(Schema):
    captain = fields.Nested(CaptainOut)


class TokensResponse(Schema):
    token = fields.String()
    refreshToken = fields.String()


class UserAuthResponse(TokensResponse):
    user = fields.Nested(UserOut)


class CaptainAuthResponse(TokensResponse):
    captain = fields.Nested(CaptainOut)


class MessageResponse(Schema):
    message = fields.String()


class ActivityOut(Schema):
    _id = fields.String()
    action = fields.String()
    meta = fields.Dict()
    source = fields.String(metadata={"description": "server or client"})
    createdAt = fields.DateTime()


class ActivityResponse(Schema):
    activity = fields.Nested(ActivityOut)


class ActivityPageResponse(Schema):
    activities = fields.List(fields.Nested(ActivityOut))
    next = fields.String(allow_none=True)

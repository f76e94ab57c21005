"""Request and response schemas of the auth service: the schema that loads a request
validates it (messages in express-validator's wording, which
frontends show); the schema that dumps a response is the allow-list of what is sent."""
import json

from marshmallow import ValidationError, fields, post_load, pre_load, validate, validates_schema

from shared.accounts import emails
from shared.accounts.passwords import MAX_BYTES
from shared.accounts.vehicles import VehicleTypeAliases
from shared.schemas import (
    CursorQuery,
    Id,
    PublicProfile,
    Schema,
    Timestamp,
    VehicleOut,
)

VEHICLE_TYPES = ("car", "motorcycle", "auto")


def bounded_text(label, low, high, **kwargs):
    """A string of `low`-`high` characters whose messages name the limit that failed."""
    too_short = f"{label} must be at least {low} characters long"
    too_long = f"{label} must be at most {high} characters long"
    return fields.String(
        validate=[validate.Length(min=low, error=too_short),
                  validate.Length(max=high, error=too_long)],
        error_messages={"required": too_short, "invalid": too_short},
        **kwargs,
    )


def password_field(label="Password", **kwargs):
    too_short = f"{label} must be at least 6 characters long"

    def check(value):
        if len(value) < 6:
            raise ValidationError(too_short)
        if len(value.encode("utf-8")) > MAX_BYTES:
            raise ValidationError(f"{label} must be at most {MAX_BYTES} bytes long")

    return fields.String(validate=check, error_messages={"required": too_short,
                                                         "invalid": too_short}, **kwargs)


class TrimmedEmail(fields.Email):
    """An email in the one spelling accounts store (shared.accounts.emails: NFKC, IDNA domain,
    lower-case), so lookalike spellings of one mailbox are one account."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        try:
            return emails.normalize(value)
        except emails.InvalidEmail:
            raise self.make_error("invalid") from None


def email_field(**kwargs):
    return TrimmedEmail(validate=validate.Length(max=254, error="Invalid Email"),
                        error_messages={"required": "Invalid Email", "invalid": "Invalid Email"},
                        **kwargs)


class FullnameSchema(Schema):
    firstname = bounded_text("First name", 3, 50, required=True)
    lastname = bounded_text("Last name", 3, 50)


class FullnameUpdateSchema(Schema):
    firstname = bounded_text("First name", 3, 50)
    lastname = bounded_text("Last name", 3, 50, allow_none=True)


class WholeNumber(fields.Integer):
    """An integer, or a string of one (express-validator's isInt); 2.5 and true are not."""

    def _validated(self, value):
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid")
        return super()._validated(value)


class VehicleSchema(VehicleTypeAliases, Schema):
    color = bounded_text("Color", 3, 30, required=True)
    plate = bounded_text("Plate", 3, 20, required=True)
    capacity = WholeNumber(
        required=True,
        validate=[validate.Range(min=1, error="Capacity must be at least 1"),
                  validate.Range(max=20, error="Capacity must be at most 20")],
        error_messages={"required": "Capacity must be at least 1",
                        "invalid": "Capacity must be an integer"},
    )
    vehicleType = fields.String(
        required=True,
        validate=validate.OneOf(VEHICLE_TYPES, error="Invalid vehicle type"),
        error_messages={"required": "Invalid vehicle type", "invalid": "Invalid vehicle type"},
        metadata={"description": "car, motorcycle or auto; `moto` is stored as motorcycle"},
    )


    @post_load
    def normalize(self, data, **kwargs):
        """Plates are unique whatever the spacing or case they were typed with."""
        data["plate"] = " ".join(data["plate"].split()).upper()
        data["color"] = data["color"].strip()
        return data


def _report_nested_fields(data, *names):
    """A missing `fullname` is reported as `fullname.firstname`, like express-validator."""
    if isinstance(data, dict):
        data = dict(data)
        for name in names:
            data.setdefault(name, {})
    return data


class RegisterUserSchema(Schema):
    fullname = fields.Nested(FullnameSchema, required=True)
    email = email_field(required=True)
    password = password_field(required=True)

    @pre_load
    def nested_defaults(self, data, **kwargs):
        return _report_nested_fields(data, "fullname")


class RegisterCaptainSchema(RegisterUserSchema):
    vehicle = fields.Nested(VehicleSchema, required=True)

    @pre_load
    def nested_defaults(self, data, **kwargs):
        return _report_nested_fields(data, "fullname", "vehicle")


class LoginSchema(Schema):
    email = email_field(required=True)
    password = password_field(required=True)


class ProfileUpdateSchema(Schema):
    fullname = fields.Nested(FullnameUpdateSchema)
    bio = fields.String(validate=validate.Length(max=500, error="Bio must be at most 500 "
                                                              "characters long"),
                        allow_none=True)
    profilePic = fields.String(allow_none=True, metadata={
        "description": "data URL of a PNG, JPEG or WebP image (stored, replaced by its URL), "
                       "the current URL (unchanged), or null (removed)"})

    @validates_schema
    def something_to_update(self, data, **kwargs):
        if not data or data.get("fullname") == {}:
            raise ValidationError("Provide at least one of fullname, bio, profilePic")


class PasswordChangeSchema(Schema):
    currentPassword = fields.String(required=True, error_messages={
        "required": "Current password is required"})
    newPassword = password_field("New password", required=True)

    @validates_schema
    def differs(self, data, **kwargs):
        if data.get("newPassword") and data.get("newPassword") == data.get("currentPassword"):
            raise ValidationError("New password must differ from the current one", "newPassword")


class StatusSchema(Schema):
    status = fields.String(
        required=True,
        validate=validate.OneOf(("active", "inactive"), error="Status must be active or inactive"),
        error_messages={"required": "Status must be active or inactive"},
    )


class RefreshSchema(Schema):
    refreshToken = fields.String(required=True, error_messages={
        "required": "Refresh token is required"})


class LogoutSchema(Schema):
    refreshToken = fields.String(metadata={"description": "also revoke this refresh token"})


class ActivityQuerySchema(CursorQuery):
    pass


class ActivityCreateSchema(Schema):
    action = fields.String(
        required=True,
        validate=validate.Length(min=1, max=100, error="Action must be 1-100 characters long"),
        error_messages={"required": "Action is required"},
    )
    meta = fields.Dict(keys=fields.String(), load_default=dict,
                       validate=lambda meta: check_meta(meta),
                       error_messages={"invalid": "Meta must be an object"})


META_MAX_BYTES = 4096
META_MAX_DEPTH = 20


def check_meta(meta):
    """Client metadata is stored as given: keep it small and free of Mongo operators."""
    if len(json.dumps(meta)) > META_MAX_BYTES:
        raise ValidationError(f"Meta must be at most {META_MAX_BYTES} bytes of JSON")

    def walk(value, depth):
        # BSON refuses NUL in keys, integers past 64 bits and MongoDB nesting beyond
        # 100 levels: 400, not 500.
        if depth > META_MAX_DEPTH:
            raise ValidationError(f"Meta must be nested at most {META_MAX_DEPTH} levels deep")
        if isinstance(value, dict):
            for key, item in value.items():
                if key.startswith("$") or "." in key or "\x00" in key:
                    raise ValidationError("Meta keys must not start with $ or contain dots "
                                          "or NUL characters")
                walk(item, depth + 1)
        elif isinstance(value, list):
            for item in value:
                walk(item, depth + 1)
        elif isinstance(value, int) and not -2**63 <= value < 2**63:
            raise ValidationError("Meta numbers must fit in 64 bits")  # BSON's int64

    walk(meta, 1)


# Responses.

class PointOut(Schema):
    type = fields.String(metadata={"examples": ["Point"]})
    coordinates = fields.List(fields.Float(), metadata={"description": "[lng, lat]"})


class UserOut(PublicProfile):
    """The account as its owner sees it."""

    email = fields.String()
    socketId = fields.String(allow_none=True)
    createdAt = Timestamp()
    updatedAt = Timestamp()


class CaptainOut(UserOut):
    vehicle = fields.Nested(VehicleOut)
    status = fields.String(metadata={"enum": ["active", "inactive"]})
    location = fields.Nested(PointOut, allow_none=True,
                             metadata={"description": "GeoJSON Point, or null"})


class UserResponse(Schema):
    user = fields.Nested(UserOut)


class UserProfileResponse(UserOut):
    """`{user}`, with the user's fields also at the top level where the app's
    `profile_view` hook puts them there."""

    user = fields.Nested(UserOut)


class CaptainResponse(Schema):
    captain = fields.Nested(CaptainOut)


class TokensResponse(Schema):
    token = fields.String()
    refreshToken = fields.String()


class UserAuthResponse(TokensResponse):
    user = fields.Nested(UserOut)
    message = fields.String(metadata={"description": "after a password change"})


class CaptainAuthResponse(TokensResponse):
    captain = fields.Nested(CaptainOut)
    message = fields.String(metadata={"description": "after a password change"})


class ActivityOut(Schema):
    _id = Id()
    action = fields.String()
    meta = fields.Dict()
    source = fields.String(metadata={"description": "server or client"})
    createdAt = Timestamp()


class ActivityResponse(Schema):
    activity = fields.Nested(ActivityOut)


class ActivityPageResponse(Schema):
    activities = fields.List(fields.Nested(ActivityOut))
    next = fields.String(allow_none=True)


ROLE_SCHEMAS = {
    "user": (RegisterUserSchema, UserAuthResponse, UserResponse),
    "captain": (RegisterCaptainSchema, CaptainAuthResponse, CaptainResponse),
}

"""/api/auth/...: the QuickChat frontend's account routes, for users.

Thin adapters over the same service functions as /users/register, /users/login and
PATCH /users/profile, in QuickChat's shapes: one `fullName` string (stored as
compat.quickchat.web describes), answers `{success, ...}`, and business errors as 200
`{success: false, message}`. Signup and login set the HttpOnly `token` cookie like
Ridewire's own; check and update-profile take the token as Bearer, cookie or
QuickChat's `token` header (shared.accounts.tokens). Registered only with COMPAT_ROUTES.
"""
from marshmallow import ValidationError, fields, post_load, pre_load, validate

from compat.quickchat.web import (
    MISSING,
    ChatUserOut,
    CompatBlueprint,
    Outcome,
    name_field,
    refusals,
    stored_name,
)
from shared.accounts import service
from shared.accounts.roles import Role
from shared.accounts.routes import PROFILE_SCOPE, client_meta, session_body
from shared.accounts.schemas import LoginSchema, email_field, password_field
from shared.accounts.tokens import auth_required, current_account
from shared.ratelimit import limit_login, limit_per_account, limit_per_ip_and_email
from shared.schemas import Schema
from shared.validation import image_body

INVALID_LOGIN = "Invalid Credentials"
DUPLICATE = "Account already exists."


def bio_field(**kwargs):
    return fields.String(validate=validate.Length(max=500, error="Bio must be at most 500 "
                                                               "characters long"), **kwargs)


quickchat_auth = CompatBlueprint("compat_chat", __name__, url_prefix="/api/auth",
                     description="QuickChat compatibility: accounts")


def require(*names):
    """A pre_load hook: "Missing Details" when one of `names` is absent or blank, as
    the tutorial answers."""

    def check(self, data, **kwargs):
        if not isinstance(data, dict) or any(
                not isinstance(data.get(name), str) or not data[name].strip()
                for name in names):
            raise ValidationError(MISSING)
        return data

    return pre_load(check)


class ChatSignupSchema(Schema):
    fullName = name_field(required=True, metadata={"examples": ["Alice Archer"]})
    email = email_field(required=True)
    password = password_field(required=True)
    bio = bio_field(required=True)

    required = require("fullName", "email", "password", "bio")

    @post_load
    def as_account(self, data, **kwargs):
        """The fields of Ridewire's register."""
        return {"fullname": stored_name(data["fullName"]), "email": data["email"],
                "password": data["password"], "bio": data["bio"]}


class ChatLoginSchema(LoginSchema):
    required = require("email", "password")


class ChatProfileSchema(Schema):
    fullName = name_field()
    bio = bio_field(allow_none=True)
    profilePic = fields.String(allow_none=True, metadata={
        "description": "data URL of a PNG, JPEG or WebP image; empty or absent: unchanged"})

    @post_load
    def as_changes(self, data, **kwargs):
        """The changes of Ridewire's profile update (a one-word name drops the last name)."""
        changes = {"bio": data["bio"]} if "bio" in data else {}
        if "fullName" in data:
            changes["fullname"] = {"lastname": None, **stored_name(data["fullName"])}
        if data.get("profilePic"):
            changes["profilePic"] = data["profilePic"]
        return changes


class ChatSessionResponse(Outcome):
    userData = fields.Nested(ChatUserOut)
    token = fields.String(metadata={"description": "the access token (QuickChat sends it "
                                                   "back in the `token` header)"})


class ChatUserResponse(Outcome):
    user = fields.Nested(ChatUserOut)


def chat_session(session, message):
    """QuickChat's answer for a new session; the `token` cookie is set on the way out."""
    body = session_body(session)
    return {"success": True, "userData": body[str(session.role)], "token": body["token"],
            "message": message}


@quickchat_auth.post("/signup")
@limit_per_ip_and_email("REGISTER_RATE_LIMIT")
@refusals(conflict=DUPLICATE)
@quickchat_auth.arguments(ChatSignupSchema)
@quickchat_auth.response(200, ChatSessionResponse)
@quickchat_auth.errors(429)
def signup(data):
    """Create a user account and start a session (QuickChat's signup).

    Takes `fullName` (any non-blank string), `email`, `password` and `bio`. Returns
    `{success: true, userData, token, message}` and sets the `token` cookie. A
    missing field, an invalid one or a taken email is 200 `{success: false,
    message}` ("Missing Details", "Account already exists.")."""
    return chat_session(service.register(Role.USER, data, client_meta()),
                        "Account Created successfully...")


@quickchat_auth.post("/login")
@limit_login(Role.USER)
@refusals(invalid=INVALID_LOGIN, unauthorized=INVALID_LOGIN)
@quickchat_auth.arguments(ChatLoginSchema)
@quickchat_auth.response(200, ChatSessionResponse)
@quickchat_auth.errors(429)
def login(data):
    """Log in (QuickChat's login).

    Returns `{success: true, userData, token, message}` and sets the `token` cookie.
    An unknown email and a wrong password are both 200 `{success: false, message:
    "Invalid Credentials"}`, after the same work."""
    return chat_session(service.login(Role.USER, data["email"], data["password"],
                                       client_meta()), "Login successfully..")


@quickchat_auth.get("/check")
@auth_required(Role.USER)
@quickchat_auth.response(200, ChatUserResponse)
def check():
    """The authenticated user (QuickChat's start-up check): `{success: true, user}`."""
    return {"success": True, "user": current_account()}


@quickchat_auth.put("/update-profile")
@image_body
@auth_required(Role.USER)
@limit_per_account("PROFILE_UPDATE_RATE_LIMIT", PROFILE_SCOPE)
@refusals()
@quickchat_auth.arguments(ChatProfileSchema)
@quickchat_auth.response(200, ChatUserResponse)
@quickchat_auth.errors(429)
def update_profile(data):
    """Change `fullName`, `bio` and, when given, `profilePic` (QuickChat's profile page).

    A `profilePic` data URL is stored like Ridewire's profile pictures (the body may be
    5 MiB). Returns `{success: true, user}`; an invalid field is 200 `{success: false,
    message}`. Within PATCH /users/profile's PROFILE_UPDATE_RATE_LIMIT (429)."""
    return {"success": True,
            "user": service.update_profile(Role.USER, current_account(), data)}

"""/api/v1/users/register and /login: the video-meeting frontend's accounts, for users.

Thin adapters over shared.accounts.service, in the frontend's shapes: `{name,
username, password}` (the username stored as compat.meetings.web describes), 201
`{message}` on a registration, `{token}` on a login, every error `{message}`. The
token is a Ridewire access token (it expires like any session and a "log out
everywhere" revokes it); the login also sets the HttpOnly `token` cookie, with which
the frontend's same-origin socket connects. Registered only with COMPAT_ROUTES.
"""
from flask import request
from marshmallow import ValidationError, fields, post_load, pre_load

from compat.meetings.web import USERNAME_RULE, MeetingsBlueprint, account_email, valid_username
from compat.quickchat.web import name_field, stored_name
from shared.accounts import service
from shared.accounts.roles import Role
from shared.accounts.routes import client_meta, session_body
from shared.accounts.schemas import password_field
from shared.errors import Conflict, Unauthorized
from shared.ratelimit import limit_login, limit_per_ip
from shared.schemas import Message, Schema

INVALID_LOGIN = "Invalid Username or password"
TAKEN = "User already exists"
PROVIDE = "Please provide {}"

meeting_accounts = MeetingsBlueprint("meeting_accounts", __name__, url_prefix="/api/v1/users",
                                     description="Video-meeting compatibility: accounts")


def provided(*names):
    """A pre_load hook: one message naming the fields when one is absent or blank."""

    def check(self, data, **kwargs):
        if not isinstance(data, dict) or any(
                not isinstance(data.get(name), str) or not data[name].strip()
                for name in names):
            raise ValidationError(PROVIDE.format(", ".join(names)))
        return data

    return pre_load(check)


def check_username(value):
    if not valid_username(value):
        raise ValidationError(USERNAME_RULE)


class MeetingRegisterSchema(Schema):
    name = name_field(required=True, metadata={"examples": ["Alice Archer"]})
    username = fields.String(required=True, validate=check_username,
                             metadata={"examples": ["alice"]})
    password = password_field(required=True)

    required = provided("name", "username", "password")

    @post_load
    def as_account(self, data, **kwargs):
        """The fields of Ridewire's register."""
        return {"fullname": stored_name(data["name"]), "email": account_email(data["username"]),
                "password": data["password"]}


class MeetingLoginSchema(Schema):
    username = fields.String(required=True, metadata={
        "description": "a username, or a Ridewire account's email"})
    password = fields.String(required=True)

    required = provided("username", "password")


class MeetingToken(Schema):
    token = fields.String(required=True, metadata={
        "description": "the access token (the frontend sends it back in bodies and queries)"})


def login_email():
    """The email of the body's username, for the per-account password limits."""
    data = request.get_json(silent=True)
    username = data.get("username") if isinstance(data, dict) else None
    return account_email(username.strip()) if isinstance(username, str) else None


@meeting_accounts.post("/register")
@limit_per_ip("REGISTER_RATE_LIMIT")
@meeting_accounts.arguments(MeetingRegisterSchema)
@meeting_accounts.response(201, Message)
@meeting_accounts.errors(409, 429)
def register(data):
    """Create a user account (the video-meeting frontend's Sign Up).

    Takes `name`, `username` and `password`. 201 `{message: "User Registered"}`, no
    session (the frontend logs in next); a taken username is 409 `{message: "User
    already exists"}`, an invalid field 400 `{message}`."""
    try:
        service.create_account(Role.USER, data, client_meta())
    except Conflict:
        raise Conflict(TAKEN) from None
    return {"message": "User Registered"}


@meeting_accounts.post("/login")
@limit_login(Role.USER, email=login_email)
@meeting_accounts.arguments(MeetingLoginSchema)
@meeting_accounts.response(200, MeetingToken)
@meeting_accounts.errors(401, 429)
def login(data):
    """Log in (the video-meeting frontend's Sign In): `{token}` and the `token` cookie.

    An unknown username and a wrong password are both 401 `{message: "Invalid Username
    or password"}`, after the same work; a missing field is 400."""
    email = account_email(data["username"].strip()) or ""
    try:
        session = service.login(Role.USER, email, data["password"], client_meta())
    except Unauthorized:
        raise Unauthorized(INVALID_LOGIN) from None
    return {"token": session_body(session)["token"]}  # session_body sets the cookie

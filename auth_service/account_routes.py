"""The routes users and captains share: `account_blueprint("user", ...)` builds
/users/..., `account_blueprint("captain", ...)` builds /captains/... Each handler
calls the matching function of `accounts` with the blueprint's role."""
from flask import Blueprint

from auth_service import accounts
from auth_service.responses import ActivityPageResponse, ActivityResponse, MessageResponse
from auth_service.schemas import (
    ActivityCreateSchema,
    ActivityQuerySchema,
    LoginSchema,
    LogoutSchema,
    PasswordChangeSchema,
    ProfileUpdateSchema,
)
from shared.openapi import doc
from shared.ratelimit import limit_per_ip_and_email
from shared.tokens import auth_required
from shared.validation import image_body

DENIED = {401: None, 403: None}


def account_blueprint(role, register_schema, auth_response, account_response):
    """A blueprint at /<role>s with register, login, profile, logout, logout-all,
    password and activity routes for accounts of `role`."""
    plural = f"{role}s"
    bp = Blueprint(plural, __name__, url_prefix=f"/{plural}")
    tags = [plural]

    def own_limits(view):
        # flask-limiter keys its counters by the view's qualified name, which is the
        # same for both roles' handlers built here: make it the blueprint's own.
        view.__qualname__ = f"{plural}.{view.__name__}"
        return view

    @bp.post("/register")
    @limit_per_ip_and_email("REGISTER_RATE_LIMIT")
    @own_limits
    @doc(body=register_schema, responses={201: auth_response, 400: None, 409: None, 429: None},
         summary=f"Register a {role}", tags=tags)
    def register():
        """Create an account and start a session: returns the account, an access token
        and a refresh token, and sets the `token` cookie. The email is stored lower-cased
        and must not be registered yet (409); a captain's vehicle plate (stored
        upper-cased) must be unique too. A new captain is `inactive`, with no location."""
        return accounts.register(role, register_schema())

    @bp.post("/login")
    @limit_per_ip_and_email("LOGIN_RATE_LIMIT")
    @own_limits
    @doc(body=LoginSchema, responses={200: auth_response, 400: None, 401: None, 429: None},
         summary=f"Log a {role} in", tags=tags)
    def login():
        """Check the email (case-insensitively) and password. Success returns the account,
        an access token and a refresh token, and sets the HttpOnly `token` cookie. An
        unknown email and a wrong password get the same 401 after the same work."""
        return accounts.login(role)

    @bp.get("/profile")
    @auth_required(role)
    @doc(responses={200: account_response, **DENIED}, auth=role,
         summary=f"The current {role}", tags=tags)
    def get_profile():
        """The authenticated account's own profile."""
        return accounts.profile(role)

    @bp.patch("/profile")
    @image_body
    @auth_required(role)
    @doc(body=ProfileUpdateSchema,
         responses={200: account_response, 400: None, **DENIED, 413: None}, auth=role,
         summary=f"Update the current {role}", tags=tags)
    def update_profile():
        """Change any of `fullname`, `bio` and `profilePic`. A new `profilePic` is a data
        URL of a PNG, JPEG or WebP image (the body is at most 5 MiB); it is stored and
        replaced by its `/media/<id>` URL. `null` removes the picture."""
        return accounts.update_profile(role)

    @bp.route("/logout", methods=["GET", "POST"])
    @auth_required(role)
    @doc(body=LogoutSchema, responses={200: MessageResponse, **DENIED}, auth=role,
         summary="Log out this session", tags=tags)
    def logout():
        """Revoke this access token (and this session's refresh token, plus the
        `refreshToken` of the body if given) and clear the `token` cookie."""
        return accounts.logout(role)

    @bp.post("/logout-all")
    @auth_required(role)
    @doc(responses={200: MessageResponse, **DENIED}, auth=role,
         summary="Log out every session", tags=tags)
    def logout_all():
        """Revoke every access and refresh token of the account issued until now; open
        sockets are disconnected within 2 seconds."""
        return accounts.logout_all(role)

    @bp.put("/password")
    @auth_required(role)
    @doc(body=PasswordChangeSchema, responses={200: auth_response, 400: None, **DENIED},
         auth=role, summary="Change the password", tags=tags)
    def change_password():
        """Change the password (400 when `currentPassword` is wrong). Every earlier token
        of the account is revoked, this one included, so the response carries a fresh
        `token` and `refreshToken` (and sets the cookie) for the calling session."""
        return accounts.change_password(role)

    @bp.get("/activity")
    @auth_required(role)
    @doc(query=ActivityQuerySchema, responses={200: ActivityPageResponse, 400: None, **DENIED},
         auth=role, summary=f"The {role}'s activity history", tags=tags)
    def list_activity():
        """The account's own activity, newest first. Pass `next` as `before` for the
        next page."""
        return accounts.list_activity(role)

    @bp.post("/activity")
    @auth_required(role)
    @doc(body=ActivityCreateSchema, responses={201: ActivityResponse, 400: None, **DENIED},
         auth=role, summary="Record a client-side activity", tags=tags)
    def add_activity():
        """Append an entry (e.g. a visited place) to the account's own history."""
        return accounts.add_activity(role)

    return bp

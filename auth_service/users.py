"""User (rider) accounts: /users/..."""
from flask import Blueprint

from auth_service import accounts
from auth_service.responses import (
    ActivityPageResponse,
    ActivityResponse,
    MessageResponse,
    UserAuthResponse,
    UserResponse,
)
from auth_service.schemas import (
    ActivityCreateSchema,
    ActivityQuerySchema,
    LoginSchema,
    LogoutSchema,
    PasswordChangeSchema,
    ProfileUpdateSchema,
    RegisterUserSchema,
)
from shared.openapi import doc
from shared.ratelimit import limit_per_ip_and_email
from shared.tokens import auth_required
from shared.validation import image_body

bp = Blueprint("users", __name__, url_prefix="/users")
ROLE = "user"


@bp.post("/register")
@limit_per_ip_and_email("REGISTER_RATE_LIMIT")
@doc(body=RegisterUserSchema, responses={201: UserAuthResponse, 400: None, 409: None, 429: None},
     summary="Register a user", tags=["users"])
def register():
    """Create a user account and start a session: returns the user, an access token
    and a refresh token, and sets the `token` cookie. The email is stored lower-cased
    and must not be registered yet (409)."""
    return accounts.register(ROLE, RegisterUserSchema())


@bp.post("/login")
@limit_per_ip_and_email("LOGIN_RATE_LIMIT")
@doc(body=LoginSchema, responses={200: UserAuthResponse, 400: None, 401: None, 429: None},
     summary="Log a user in", tags=["users"])
def login():
    """Check the email (case-insensitively) and password. Success returns the user, an
    access token and a refresh token, and sets the HttpOnly `token` cookie. An unknown
    email and a wrong password get the same 401 after the same work."""
    return accounts.login(ROLE)


@bp.get("/profile")
@auth_required(ROLE)
@doc(responses={200: UserResponse, 401: None, 403: None}, auth=ROLE,
     summary="The current user", tags=["users"])
def get_profile():
    """The authenticated user's own profile."""
    return accounts.profile(ROLE)


@bp.patch("/profile")
@image_body
@auth_required(ROLE)
@doc(body=ProfileUpdateSchema, responses={200: UserResponse, 400: None, 401: None, 403: None,
                                          413: None},
     auth=ROLE, summary="Update the current user", tags=["users"])
def update_profile():
    """Change any of `fullname`, `bio` and `profilePic`. A new `profilePic` is a data URL
    of a PNG, JPEG or WebP image (at most 5 MiB); it is stored and replaced by its
    `/media/<id>` URL. `null` removes the picture."""
    return accounts.update_profile(ROLE)


@bp.route("/logout", methods=["GET", "POST"])
@auth_required(ROLE)
@doc(body=LogoutSchema, responses={200: MessageResponse, 401: None, 403: None}, auth=ROLE,
     summary="Log out this session", tags=["users"])
def logout():
    """Revoke this access token (and this session's refresh token, plus the
    `refreshToken` of the body if given) and clear the `token` cookie."""
    return accounts.logout(ROLE)


@bp.post("/logout-all")
@auth_required(ROLE)
@doc(responses={200: MessageResponse, 401: None, 403: None}, auth=ROLE,
     summary="Log out every session", tags=["users"])
def logout_all():
    """Revoke every access and refresh token of the account issued until now; open
    sockets are disconnected within 2 seconds."""
    return accounts.logout_all(ROLE)


@bp.put("/password")
@auth_required(ROLE)
@doc(body=PasswordChangeSchema, responses={200: UserAuthResponse, 400: None, 401: None,
                                           403: None},
     auth=ROLE, summary="Change the password", tags=["users"])
def change_password():
    """Change the password (400 when `currentPassword` is wrong). Every earlier token of
    the account is revoked, this one included, so the response carries a fresh `token`
    and `refreshToken` (and sets the cookie) for the calling session to continue."""
    return accounts.change_password(ROLE)


@bp.get("/activity")
@auth_required(ROLE)
@doc(query=ActivityQuerySchema, responses={200: ActivityPageResponse, 400: None, 401: None,
                                           403: None},
     auth=ROLE, summary="The user's activity history", tags=["users"])
def list_activity():
    """The user's own activity, newest first. Pass `next` as `before` for the next page."""
    return accounts.list_activity(ROLE)


@bp.post("/activity")
@auth_required(ROLE)
@doc(body=ActivityCreateSchema, responses={201: ActivityResponse, 400: None, 401: None,
                                           403: None},
     auth=ROLE, summary="Record a client-side activity", tags=["users"])
def add_activity():
    """Append an entry (e.g. a visited place) to the user's own history."""
    return accounts.add_activity(ROLE)

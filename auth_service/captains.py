"""Captain (driver) accounts: /captains/..."""
from flask import Blueprint

from auth_service import accounts
from auth_service.responses import (
    ActivityPageResponse,
    ActivityResponse,
    CaptainAuthResponse,
    CaptainResponse,
    MessageResponse,
)
from auth_service.schemas import (
    ActivityCreateSchema,
    ActivityQuerySchema,
    LoginSchema,
    LogoutSchema,
    PasswordChangeSchema,
    ProfileUpdateSchema,
    RegisterCaptainSchema,
    StatusSchema,
)
from shared.models import accounts as account_store
from shared.openapi import doc
from shared.ratelimit import limit_per_ip_and_email
from shared.tokens import auth_required, current_account
from shared.validation import image_body, json_body, load

bp = Blueprint("captains", __name__, url_prefix="/captains")
ROLE = "captain"


@bp.post("/register")
@limit_per_ip_and_email("REGISTER_RATE_LIMIT")
@doc(body=RegisterCaptainSchema,
     responses={201: CaptainAuthResponse, 400: None, 409: None, 429: None},
     summary="Register a captain", tags=["captains"])
def register():
    """Create a captain account (status `inactive`, no location) with its `vehicle`, and
    start a session: returns the captain, an access token and a refresh token, and sets
    the `token` cookie. The email (stored lower-cased) and the vehicle plate (stored
    upper-cased) must not be registered yet (409)."""
    return accounts.register(ROLE, RegisterCaptainSchema())


@bp.post("/login")
@limit_per_ip_and_email("LOGIN_RATE_LIMIT")
@doc(body=LoginSchema, responses={200: CaptainAuthResponse, 400: None, 401: None, 429: None},
     summary="Log a captain in", tags=["captains"])
def login():
    """Check the email (case-insensitively) and password. Success returns the captain, an
    access token and a refresh token, and sets the HttpOnly `token` cookie. An unknown
    email and a wrong password get the same 401 after the same work."""
    return accounts.login(ROLE)


@bp.get("/profile")
@auth_required(ROLE)
@doc(responses={200: CaptainResponse, 401: None, 403: None}, auth=ROLE,
     summary="The current captain", tags=["captains"])
def get_profile():
    """The authenticated captain's own profile."""
    return accounts.profile(ROLE)


@bp.patch("/profile")
@image_body
@auth_required(ROLE)
@doc(body=ProfileUpdateSchema, responses={200: CaptainResponse, 400: None, 401: None, 403: None,
                                          413: None},
     auth=ROLE, summary="Update the current captain", tags=["captains"])
def update_profile():
    """Change any of `fullname`, `bio` and `profilePic`. A new `profilePic` is a data URL
    of a PNG, JPEG or WebP image (at most 5 MiB); it is stored and replaced by its
    `/media/<id>` URL. `null` removes the picture."""
    return accounts.update_profile(ROLE)


@bp.route("/logout", methods=["GET", "POST"])
@auth_required(ROLE)
@doc(body=LogoutSchema, responses={200: MessageResponse, 401: None, 403: None}, auth=ROLE,
     summary="Log out this session", tags=["captains"])
def logout():
    """Revoke this access token (and this session's refresh token, plus the
    `refreshToken` of the body if given) and clear the `token` cookie."""
    return accounts.logout(ROLE)


@bp.post("/logout-all")
@auth_required(ROLE)
@doc(responses={200: MessageResponse, 401: None, 403: None}, auth=ROLE,
     summary="Log out every session", tags=["captains"])
def logout_all():
    """Revoke every access and refresh token of the account issued until now; open
    sockets are disconnected within 2 seconds."""
    return accounts.logout_all(ROLE)


@bp.put("/password")
@auth_required(ROLE)
@doc(body=PasswordChangeSchema, responses={200: CaptainAuthResponse, 400: None, 401: None,
                                           403: None},
     auth=ROLE, summary="Change the password", tags=["captains"])
def change_password():
    """Change the password (400 when `currentPassword` is wrong). Every earlier token of
    the account is revoked, this one included, so the response carries a fresh `token`
    and `refreshToken` (and sets the cookie) for the calling session to continue."""
    return accounts.change_password(ROLE)


@bp.get("/activity")
@auth_required(ROLE)
@doc(query=ActivityQuerySchema, responses={200: ActivityPageResponse, 400: None, 401: None,
                                           403: None},
     auth=ROLE, summary="The captain's activity history", tags=["captains"])
def list_activity():
    """The captain's own activity, newest first. Pass `next` as `before` for the next page."""
    return accounts.list_activity(ROLE)


@bp.post("/activity")
@auth_required(ROLE)
@doc(body=ActivityCreateSchema, responses={201: ActivityResponse, 400: None, 401: None,
                                           403: None},
     auth=ROLE, summary="Record a client-side activity", tags=["captains"])
def add_activity():
    """Append an entry (e.g. a visited place) to the captain's own history."""
    return accounts.add_activity(ROLE)


@bp.patch("/status")
@auth_required(ROLE)
@doc(body=StatusSchema, responses={200: CaptainResponse, 400: None, 401: None, 403: None},
     auth=ROLE, summary="Go on or off duty", tags=["captains"])
def set_status():
    """Set the captain's `status` to `active` (receives ride requests near its location)
    or `inactive`."""
    data = load(StatusSchema(), json_body())
    captain = account_store.update(ROLE, current_account()["_id"], {"status": data["status"]})
    return {"captain": account_store.public(captain)}

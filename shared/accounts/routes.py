"""/users/... and /captains/...: `account_blueprint(Role.USER)` and
`account_blueprint(Role.CAPTAIN)` build the same routes for each role; captains also
get /captains/status. Each route parses, calls shared.accounts.service and responds."""
from flask import after_this_request, current_app, request

from shared.accounts import activity, service
from shared.accounts.roles import Role
from shared.accounts.schemas import (
    ROLE_SCHEMAS,
    ActivityCreateSchema,
    ActivityPageResponse,
    ActivityQuerySchema,
    ActivityResponse,
    CaptainResponse,
    LoginSchema,
    LogoutSchema,
    PasswordChangeSchema,
    ProfileUpdateSchema,
    StatusSchema,
    UserProfileResponse,
)
from shared.accounts.tokens import (
    auth_required,
    clear_token_cookie,
    current_account,
    current_claims,
    set_token_cookie,
)
from shared.csrf import changes_state
from shared.ratelimit import (
    limit_login,
    limit_password_change,
    limit_per_account,
    limit_per_ip_and_email,
)
from shared.schemas import Message
from shared.validation import image_body
from shared.web import Blueprint

ACTIVITY_SCOPE = "activity-posts"  # one ACTIVITY_RATE_LIMIT budget per account
PROFILE_SCOPE = "profile-updates"  # one PROFILE_UPDATE_RATE_LIMIT budget for every profile route


def client_meta():
    """Who is asking, for the activity history."""
    return {"ip": request.remote_addr, "userAgent": request.user_agent.string[:200]}


def session_body(session, **extra):
    """`{role: account, token, refreshToken}`, with the `token` cookie set on the way out."""

    @after_this_request
    def set_cookie(response):
        return set_token_cookie(response, session.token, session.role)

    return {**extra, str(session.role): session.account, "token": session.token,
            "refreshToken": session.refresh_token}


def logged_out(message):
    after_this_request(clear_token_cookie)
    return {"message": message}


def account_blueprint(role):
    """A blueprint at /<role>s with register, login, profile, logout, logout-all,
    password and activity routes for accounts of `role`."""
    register_schema, auth_schema, account_schema = ROLE_SCHEMAS[role]
    key = str(role)
    bp = Blueprint(role.plural, __name__, url_prefix=f"/{role.plural}",
                   description=f"{role.capitalize()} accounts")

    def own_limits(view):
        # flask-limiter keys its counters by the view's qualified name, which is the
        # same for both roles' handlers built here: make it the blueprint's own.
        view.__qualname__ = f"{role.plural}.{view.__name__}"
        return view

    @bp.post("/register")
    @limit_per_ip_and_email("REGISTER_RATE_LIMIT")
    @own_limits
    @bp.arguments(register_schema)
    @bp.response(201, auth_schema)
    @bp.errors(409, 429)
    def register(data):
        """Create an account and start a session.

        Returns the account, an access token and a refresh token, and sets the
        `token` cookie. The email is stored lower-cased and must not be registered yet
        (409); a captain's vehicle plate (stored upper-cased) must be unique too. A new
        captain is `inactive`, with no location."""
        return session_body(service.register(role, data, client_meta()))

    @bp.post("/login")
    @limit_login(role)
    @own_limits
    @bp.arguments(LoginSchema)
    @bp.response(200, auth_schema)
    @bp.errors(401, 429)
    def login(data):
        """Log in with email and password.

        The email is matched case-insensitively. Success returns the account, an access
        token and a refresh token, and sets the HttpOnly `token` cookie. An unknown
        email and a wrong password get the same 401 after the same work."""
        return session_body(service.login(role, data["email"], data["password"],
                                           client_meta()))

    profile_schema = UserProfileResponse if role == Role.USER else account_schema

    def profile_body(account):
        """`{role: account}`, or what the app's `profile_view` hook makes of it."""
        view = current_app.extensions.get("profile_view")
        return view(role, account) if view else {key: account}

    @bp.get("/profile")
    @auth_required(role)
    @bp.response(200, profile_schema)
    def get_profile():
        """The authenticated account's own profile.

        A rider's fields may also be at the top level (with the compat routes on)."""
        return profile_body(current_account())

    @bp.patch("/profile")
    @image_body
    @auth_required(role)
    @limit_per_account("PROFILE_UPDATE_RATE_LIMIT", PROFILE_SCOPE)
    @own_limits
    @bp.arguments(ProfileUpdateSchema)
    @bp.response(200, profile_schema)
    @bp.errors(429)
    def update_profile(data):
        """Change any of `fullname`, `bio` and `profilePic`.

        A new `profilePic` is a data URL of a PNG, JPEG or WebP image (the body is at
        most 5 MiB); it is stored and replaced by its `/media/<id>` URL. `null` removes
        the picture. A new picture counts against IMAGE_UPLOAD_RATE_LIMIT (429). The
        answer has the shape of GET /profile. At most PROFILE_UPDATE_RATE_LIMIT per
        account (429), with the compat profile update."""
        return profile_body(service.update_profile(role, current_account(), data))

    @bp.post("/logout")
    @auth_required(role)
    @bp.arguments(LogoutSchema)
    @bp.response(200, Message)
    def logout(data):
        """Log out this session.

        Revokes this access token and this session's refresh tokens (plus the
        `refreshToken` of the body, if given) and clears the `token` cookie."""
        service.logout(role, current_account(), current_claims(), data.get("refreshToken"),
                        client_meta())
        return logged_out("Logged out successfully")

    @bp.get("/logout")
    @changes_state
    @auth_required(role)
    @bp.response(200, Message)
    def logout_get():
        """Log out this session (the GET form of POST /logout that some
        frontends use).

        The token must come in a header: 403 with the cookie alone (any page can make a
        browser follow a link), but a placeholder header such as `Bearer null` along
        with the cookie is accepted."""
        service.logout(role, current_account(), current_claims(), None, client_meta())
        return logged_out("Logged out successfully")

    @bp.post("/logout-all")
    @auth_required(role)
    @bp.response(200, Message)
    def logout_all():
        """Log out every session.

        Revokes every access and refresh token of the account issued until now; open
        sockets are disconnected within 2 seconds."""
        service.logout_all(role, current_account(), client_meta())
        return logged_out("Logged out of all sessions")

    @bp.put("/password")
    @auth_required(role)
    @limit_password_change(role)
    @own_limits
    @bp.arguments(PasswordChangeSchema)
    @bp.response(200, auth_schema)
    @bp.errors(429)
    def change_password(data):
        """Change the password.

        400 when `currentPassword` is wrong. Every earlier token of the account is
        revoked, this one included, so the response carries a fresh `token` and
        `refreshToken` (and sets the cookie) for the calling session."""
        session = service.change_password(role, current_account(), data["currentPassword"],
                                           data["newPassword"], client_meta())
        return session_body(session, message="Password changed")

    @bp.get("/activity")
    @auth_required(role)
    @bp.arguments(ActivityQuerySchema, location="query")
    @bp.response(200, ActivityPageResponse)
    def list_activity(query):
        """The account's own activity history, newest first.

        Pass `next` as `before` for the next page."""
        entries, cursor = activity.page(current_account()["_id"], role, query["limit"],
                                        query["before"])
        return {"activities": entries, "next": cursor}

    @bp.post("/activity")
    @auth_required(role)
    @limit_per_account("ACTIVITY_RATE_LIMIT", ACTIVITY_SCOPE)
    @own_limits
    @bp.arguments(ActivityCreateSchema)
    @bp.response(201, ActivityResponse)
    @bp.errors(429)
    def add_activity(data):
        """Record a client-side activity (e.g. a visited place) in the own history.

        At most ACTIVITY_RATE_LIMIT per account (429); the history keeps the account's
        newest ACTIVITY_CLIENT_MAX entries of its own, each for ACTIVITY_RETENTION_DAYS."""
        entry = activity.add_from_client(current_account()["_id"], role, data["action"],
                                         data["meta"])
        return {"activity": entry}

    return bp


users = account_blueprint(Role.USER)
captains = account_blueprint(Role.CAPTAIN)


@captains.patch("/status")
@auth_required(Role.CAPTAIN)
@captains.arguments(StatusSchema)
@captains.response(200, CaptainResponse)
def set_status(data):
    """Go on or off duty: `active` receives ride requests near its location."""
    return {"captain": service.set_status(current_account(), data["status"])}

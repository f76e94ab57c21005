"""/auth/refresh: trade a refresh token for a new session."""
from shared.accounts import service
from shared.accounts.routes import session_body
from shared.accounts.schemas import RefreshSchema, TokensResponse
from shared.ratelimit import limit_per_ip
from shared.web import Blueprint

session_routes = Blueprint("auth", __name__, url_prefix="/auth", description="Refresh tokens")


@session_routes.post("/refresh")
@limit_per_ip("REFRESH_RATE_LIMIT")
@session_routes.arguments(RefreshSchema)
@session_routes.response(200, TokensResponse)
@session_routes.errors(401, 429)
def refresh(data):
    """Trade a refresh token for new tokens.

    Returns a new access token and a new refresh token (and sets the `token` cookie). A
    refresh token works once; presenting a spent one again is taken as theft and
    revokes every token of its login session (401)."""
    return session_body(service.refresh(data["refreshToken"]))

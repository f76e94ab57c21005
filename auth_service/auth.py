"""/auth/refresh: trade a refresh token for a new session."""
from auth_service.accounts import session_body
from auth_service.schemas import RefreshSchema, TokensResponse
from shared.ratelimit import limit_per_ip
from shared.services import accounts
from shared.web import Blueprint

bp = Blueprint("auth", __name__, url_prefix="/auth", description="Refresh tokens")


@bp.post("/refresh")
@limit_per_ip("REFRESH_RATE_LIMIT")
@bp.arguments(RefreshSchema)
@bp.response(200, TokensResponse)
@bp.errors(401, 429)
def refresh(data):
    """Trade a refresh token for new tokens.

    Returns a new access token and a new refresh token (and sets the `token` cookie). A
    refresh token works once; presenting a spent one again is taken as theft and
    revokes every token of its login session (401)."""
    return session_body(accounts.refresh(data["refreshToken"]))

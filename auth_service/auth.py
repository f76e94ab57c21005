"""Refresh tokens: /auth/refresh."""
from flask import Blueprint, jsonify

from auth_service.accounts import start_session
from auth_service.responses import TokensResponse
from auth_service.schemas import RefreshSchema
from shared.errors import ApiError
from shared.models import accounts, refresh_tokens
from shared.openapi import doc
from shared.ratelimit import limit_per_ip
from shared.tokens import set_token_cookie
from shared.validation import json_body, load

bp = Blueprint("auth", __name__, url_prefix="/auth")


@bp.post("/refresh")
@limit_per_ip("REFRESH_RATE_LIMIT")
@doc(body=RefreshSchema, responses={200: TokensResponse, 400: None, 401: None, 429: None},
     summary="Trade a refresh token for new tokens", tags=["auth"])
def refresh():
    """Spend a refresh token: returns a new access token and a new refresh token (and
    sets the `token` cookie). A refresh token works once; presenting a spent one again
    is taken as theft and revokes every token of its login session (401)."""
    data = load(RefreshSchema(), json_body())
    try:
        spent = refresh_tokens.spend(data["refreshToken"])
    except refresh_tokens.RefreshError as error:
        raise ApiError(401, error.message) from None
    role = spent["role"]
    account = accounts.find_by_id(role, spent["account"])
    if account is None:
        raise ApiError(401, "Invalid refresh token")
    token, refresh_token = start_session(role, account, family=spent["family"])
    response = jsonify({"token": token, "refreshToken": refresh_token})
    return set_token_cookie(response, token, role)

"""Access tokens: issued by the auth service, checked identically by both services.

An access token is an HS256 JWT (flask-jwt-extended) with `sub` (account id),
`role` (`user` | `captain`), `type` = `access`, `jti`, `iat`, `exp`, and `ver`:
the account's `tokenVersion` when it was issued. A token is refused when it is
malformed, badly signed, expired, not an access token, blacklisted (its `jti` in
`blacklisted_tokens`), of an account that no longer exists, or older than the
account's last "log out everywhere" (its `ver` below the account's `tokenVersion`).

    @bp.get("/profile")
    @auth_required("user")
    def profile():
        account = current_account()
"""
import functools
from datetime import timedelta

import jwt as pyjwt
from flask import current_app, g, request
from flask_jwt_extended import JWTManager, create_access_token, decode_token

from shared.errors import ApiError
from shared.models import accounts

jwt = JWTManager()

ROLE_COLLECTIONS = accounts.COLLECTIONS


class TokenError(Exception):
    """The token cannot be used; `message` is safe to show to the client."""

    def __init__(self, message, status=401):
        super().__init__(message)
        self.message = message
        self.status = status


def init_tokens(app):
    app.config.setdefault("JWT_ALGORITHM", "HS256")
    app.config.setdefault("JWT_DECODE_ALGORITHMS", ["HS256"])
    app.config.setdefault("JWT_TOKEN_LOCATION", ["headers", "cookies"])
    app.config.setdefault("JWT_ACCESS_COOKIE_NAME", "token")
    # The compatible frontends send the `token` cookie without a CSRF header;
    # the cookie is HttpOnly and SameSite, see README "Security".
    app.config.setdefault("JWT_COOKIE_CSRF_PROTECT", False)
    jwt.init_app(app)


def token_ttl(role):
    seconds = current_app.config["USER_TOKEN_TTL" if role == "user" else "CAPTAIN_TOKEN_TTL"]
    return timedelta(seconds=seconds)


def issue_access_token(account, role):
    """A signed access token for `account` (a user or captain document)."""
    return create_access_token(
        identity=str(account["_id"]),
        additional_claims={"role": role, "ver": account.get("tokenVersion", 0)},
        expires_delta=token_ttl(role),
    )


def authenticate(raw_token):
    """Check `raw_token` completely; return `(claims, account)` or raise TokenError."""
    if not raw_token:
        raise TokenError("Authentication required")
    try:
        claims = decode_token(raw_token)
    except pyjwt.ExpiredSignatureError:
        raise TokenError("Token has expired") from None
    except Exception:  # any decoding or signature failure
        raise TokenError("Invalid token") from None
    role = claims.get("role")
    if claims.get("type") != "access" or role not in ROLE_COLLECTIONS or not claims.get("jti"):
        raise TokenError("Invalid token")
    # Signed by us but lacking a claim we always issue: never ours, refuse it anyway.
    # (flask-jwt-extended fills in a missing `type` as "access", so read the payload.)
    issued = pyjwt.decode(raw_token, options={"verify_signature": False})
    if issued.get("type") != "access" or any(
            not _is_int(issued.get(name)) for name in ("exp", "iat", "ver")):
        raise TokenError("Invalid token")
    account, blacklisted = accounts.find_for_token(role, claims.get("sub"), claims["jti"])
    if account is None:
        raise TokenError("Invalid token")
    if blacklisted or claims["ver"] < account.get("tokenVersion", 0):
        raise TokenError("Token has been revoked")
    return claims, account


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def token_from_request():
    """The raw token from `Authorization: Bearer ...` or else the `token` cookie."""
    header = request.headers.get("Authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise TokenError("Authorization header must be 'Bearer <token>'")
        return value.strip()
    return request.cookies.get(current_app.config["JWT_ACCESS_COOKIE_NAME"])


def auth_required(role):
    """Decorator: 401 without a usable token, 403 with a valid token of the other role.
    `role="any"` lets both roles in; `g.role` says which one called."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            try:
                claims, account = authenticate(token_from_request())
            except TokenError as error:
                raise ApiError(error.status, error.message) from None
            if role != "any" and claims["role"] != role:
                raise ApiError(403, f"This route is for {role}s only")
            g.claims, g.account, g.role = claims, account, claims["role"]
            return view(*args, **kwargs)

        return wrapper

    return decorator


def current_account():
    return g.account


def current_claims():
    return g.claims


def cross_site_origins():
    """True when a configured CORS origin is on another site than ours (needs SameSite=None)."""
    return any(not origin.startswith(("http://localhost", "http://127.0.0.1"))
               for origin in current_app.config["CORS_ORIGINS"])


def set_token_cookie(response, token, role):
    """The compatible `token` cookie: HttpOnly; Secure and SameSite=None in production
    when a cross-site frontend origin is configured, SameSite=Lax otherwise."""
    production = current_app.config["APP_ENV"] == "production"
    cross_site = production and cross_site_origins()
    response.set_cookie(
        current_app.config["JWT_ACCESS_COOKIE_NAME"],
        token,
        max_age=int(token_ttl(role).total_seconds()),
        httponly=True,
        secure=production,
        samesite="None" if cross_site else "Lax",
        path="/",
    )
    return response


def clear_token_cookie(response):
    response.delete_cookie(current_app.config["JWT_ACCESS_COOKIE_NAME"], path="/")
    return response

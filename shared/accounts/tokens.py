"""Access tokens through flask-jwt-extended's own hooks, checked alike by both services.

An access token is an HS256 JWT with `sub` (account id), `role` (a `Role`), `type` =
`access`, `jti`, `iat`, `exp`, and `ver`: the account's `tokenVersion` when its session
(login) began. It is refused when it is malformed, badly signed, expired, not an access token,
lacks a claim we always issue, is blacklisted (its `jti` in `blacklisted_tokens`: logged
out, replaced by a refresh, or of a revoked session family), is of
an account that no longer exists, or is older than the account's last "log out
everywhere" (`ver` below `tokenVersion`). One decode and one query per request: the
blacklist is this process's copy (shared.accounts.revocations: a token revoked elsewhere is
refused within REVOCATION_POLL_SECONDS), and the blocklist hook finds the account,
which it hands to the user-lookup hook. A compatibility layer may rewrite other ways
of sending a token into the Bearer header before the check (a `before_request`).

`auth_required` accepts a plain `Bearer <token>` header (or, without an Authorization
header, the `token` cookie) with one PyJWT decode, made with the arguments that
flask-jwt-extended's own check uses, and the same lookup; flask-jwt-extended parses a
token four times per check. Every request it does not accept that way (any refusal,
any other header form) goes through `verify_jwt_in_request`, which decides and answers
as before, so only the accepting path is shortened.

    @blp.get("/profile")
    @auth_required(Role.USER)
    def profile():
        account = current_account()
"""
import functools
import re
import uuid
from datetime import UTC, datetime, timedelta

import jwt as pyjwt
from flask import current_app, g, request
from flask_jwt_extended import (
    create_access_token,
    decode_token,
    get_current_user,
    get_jwt,
    set_access_cookies,
    unset_access_cookies,
    verify_jwt_in_request,
)
from flask_jwt_extended.config import config as jwt_config

from shared.accounts import accounts, revocations
from shared.accounts.roles import Role
from shared.errors import Forbidden, error_response
from shared.extensions import jwt
from shared.web import add_facts

INT_CLAIMS = ("exp", "iat", "ver")
LOOKED_UP = "_token_account"
CHECKED = "_checked_token"  # (claims, account) of the request's accepted token
# A JWT as a header carries it: three base64url segments, nothing else.
JWT_SHAPE = re.compile(r"[A-Za-z0-9_=-]+\.[A-Za-z0-9_=-]+\.[A-Za-z0-9_=-]*")
SECURITY = [{"bearerAuth": []}, {"cookieAuth": []}]


class TokenError(Exception):
    """The token cannot be used; `message` is safe to show to the client."""

    def __init__(self, message, status=401):
        super().__init__(message)
        self.message = message
        self.status = status


def init_tokens(app):
    production = app.config["APP_ENV"] == "production"
    app.config.setdefault("JWT_ALGORITHM", "HS256")
    app.config.setdefault("JWT_DECODE_ALGORITHMS", ["HS256"])
    app.config.setdefault("JWT_TOKEN_LOCATION", ["headers", "cookies"])
    app.config.setdefault("JWT_ACCESS_COOKIE_NAME", "token")
    app.config.setdefault("JWT_ACCESS_COOKIE_PATH", "/")
    # The compatible frontends send the `token` cookie without a CSRF header; the
    # cookie is HttpOnly and SameSite (docs/security.md).
    app.config.setdefault("JWT_COOKIE_CSRF_PROTECT", False)
    app.config.setdefault("JWT_COOKIE_SECURE", production)
    app.config.setdefault("JWT_COOKIE_SAMESITE", "None" if production and cross_site_origins(
        app.config["CORS_ORIGINS"]) else "Lax")
    jwt.init_app(app)
    revocations.init_app(app)


def cross_site_origins(origins):
    """True when a configured CORS origin is on another site than ours (needs SameSite=None)."""
    return any(not origin.startswith(("http://localhost", "http://127.0.0.1"))
               for origin in origins)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def well_formed(claims):
    """Whether `claims` carry every claim we issue, each of the type we issue it with.
    (flask-jwt-extended fills in a missing `type`, so this looks at them as sent.)"""
    return (claims.get("type") == "access" and Role.parse(claims.get("role")) is not None
            and isinstance(claims.get("sub"), str) and isinstance(claims.get("jti"), str)
            and claims["jti"] != "" and all(_is_int(claims.get(name)) for name in INT_CLAIMS))


@jwt.decode_key_loader
def decode_key(_header, unverified_claims):
    if unverified_claims.get("type") == "access" and not well_formed(unverified_claims):
        raise pyjwt.InvalidTokenError("unexpected claims")
    if "type" not in unverified_claims:
        raise pyjwt.InvalidTokenError("missing type")
    return jwt_config.decode_key


def lookup(claims):
    """`(account or None, revoked)` for decoded, well-formed access-token claims: the
    blacklist from this process's copy, the account and its tokenVersion by one query."""
    if revocations.is_blacklisted(claims["jti"]):
        return None, True
    account = accounts.find_by_id(Role(claims["role"]), claims["sub"])
    return account, account is not None and claims["ver"] < account.get("tokenVersion", 0)


@jwt.token_in_blocklist_loader
def is_revoked(_header, claims):
    account, revoked = lookup(claims)
    setattr(g, LOOKED_UP, account)
    return revoked


@jwt.user_lookup_loader
def looked_up_account(_header, _claims):
    return g.pop(LOOKED_UP, None)


@jwt.unauthorized_loader
def no_token(_reason):
    header = request.headers.get("Authorization")
    if header and not header.startswith("Bearer "):
        return error_response(401, "Authorization header must be 'Bearer <token>'")
    return error_response(401, "Authentication required")


@jwt.invalid_token_loader
def invalid_token(_reason):
    return error_response(401, "Invalid token")


@jwt.expired_token_loader
def expired_token(_header, _claims):
    return error_response(401, "Token has expired")


@jwt.revoked_token_loader
def revoked_token(_header, _claims):
    return error_response(401, "Token has been revoked")


@jwt.user_lookup_error_loader
def unknown_account(_header, _claims):
    return error_response(401, "Invalid token")


def authenticate(raw_token):
    """The check of `jwt_required`, for a raw token that is not in the request (the
    Socket.IO handshake): `(claims, account)`, or TokenError."""
    if not raw_token:
        raise TokenError("Authentication required")
    try:
        claims = decode_token(raw_token)
    except pyjwt.ExpiredSignatureError:
        raise TokenError("Token has expired") from None
    except Exception:  # any decoding or signature failure
        raise TokenError("Invalid token") from None
    if claims.get("type") != "access":
        raise TokenError("Invalid token")
    account, revoked = lookup(claims)
    if revoked:
        raise TokenError("Token has been revoked")
    if account is None:
        raise TokenError("Invalid token")
    return claims, account


def token_ttl(role):
    seconds = current_app.config["USER_TOKEN_TTL" if role == Role.USER else "CAPTAIN_TOKEN_TTL"]
    return timedelta(seconds=seconds)


def issue_access_token(account, role, ver=None):
    """`(token, claims)`: a signed access token for `account` and what it claims, so
    that callers need not decode it again. `ver` defaults to the account's tokenVersion
    (a refresh passes its session's, so that a "log out everywhere" racing it wins)."""
    issued = datetime.now(UTC).replace(microsecond=0)
    claims = {"jti": uuid.uuid4().hex, "iat": int(issued.timestamp()),
              "nbf": int(issued.timestamp()),
              "exp": int((issued + token_ttl(role)).timestamp()), "role": str(role),
              "ver": account.get("tokenVersion", 0) if ver is None else ver}
    token = create_access_token(identity=str(account["_id"]), additional_claims=claims)
    return token, claims


def plain_token():
    """The request's token when it comes the plain way (`Bearer <jwt>` alone in the
    Authorization header, or without that header the `token` cookie where cookies are
    read without a CSRF value), else None."""
    locations = jwt_config.token_location
    header = request.headers.get(jwt_config.header_name)
    if header is not None:
        kind, _, token = header.partition(" ")
        plain = "headers" in locations and kind == jwt_config.header_type
        return token if plain and JWT_SHAPE.fullmatch(token) else None
    if "cookies" in locations and not jwt_config.cookie_csrf_protect:
        return request.cookies.get(jwt_config.access_cookie_name)
    return None


def accepted(raw_token):
    """`(claims, account)` when flask-jwt-extended's check would accept `raw_token` as
    an access token of an existing account, not revoked; None when it would not, or
    when unsure (an audience or issuer configured)."""
    if jwt_config.decode_audience is not None or jwt_config.decode_issuer is not None:
        return None
    try:
        claims = pyjwt.decode(raw_token, jwt_config.decode_key,
                              algorithms=jwt_config.decode_algorithms, leeway=jwt_config.leeway,
                              options={"verify_aud": False, "verify_sub": jwt_config.verify_sub})
    except pyjwt.PyJWTError:
        return None
    if jwt_config.identity_claim_key not in claims or not well_formed(claims):
        return None
    account, revoked = lookup(claims)
    return None if revoked or account is None else (claims, account)


def check_request_token():
    """Accept the request's token (one decode, see the module's docstring), or let
    `verify_jwt_in_request` decide, refuse and answer; the outcome is kept for
    `current_claims` and `current_account`."""
    raw_token = plain_token()
    checked = accepted(raw_token) if raw_token else None
    if checked is None:
        verify_jwt_in_request()
        checked = (get_jwt(), get_current_user())
    setattr(g, CHECKED, checked)


def auth_required(*roles):
    """Decorator: 401 without a usable token, 403 with a valid token of another role
    than `roles` (no roles: either role). Documents the token in the spec."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            check_request_token()
            if roles and current_role() not in roles:
                raise Forbidden(f"This route is for {roles[0]}s only")
            return current_app.ensure_sync(view)(*args, **kwargs)

        return add_facts(wrapper, roles=[str(role) for role in roles], security=SECURITY)

    return decorator


def _checked():
    checked = g.get(CHECKED)
    if checked is None:
        raise RuntimeError("No token was checked for this request (auth_required)")
    return checked


def current_account():
    return _checked()[1]


def current_claims():
    return _checked()[0]


def current_role():
    return Role(current_claims()["role"])


def set_token_cookie(response, token, role):
    """The compatible HttpOnly `token` cookie; Secure and SameSite=None in production
    with a cross-site frontend origin, SameSite=Lax otherwise (see init_tokens)."""
    set_access_cookies(response, token, max_age=int(token_ttl(role).total_seconds()))
    return response


def clear_token_cookie(response):
    unset_access_cookies(response)
    return response

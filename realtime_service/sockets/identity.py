"""Who a Socket.IO connection is, without ever trusting a client-stated identity.

The credential is, in this order, `auth.token`, the `token` query parameter, an
`Authorization: Bearer` header, then the HttpOnly `token` cookie (which only a
same-origin page sends: the tutorial frontends' `io(url)` carries nothing else).
A present but invalid credential is refused. With none, a page of the gateway's own
origin (as configured: `shared.cors.own_origins`) is accepted as *anonymous* when
the compatibility layer is on: no rooms, no presence, its
events ignored; its first `join` closes the transport so
that the client reconnects with the cookie its login has set since. Anything else
without a credential is refused.
"""
from flask import current_app, request

from shared.cors import own_origins


def handshake_credential(auth):
    """`(raw token, where it came from)`, or `(None, None)`."""
    if isinstance(auth, dict) and auth.get("token"):
        return str(auth["token"]), "auth"
    if request.args.get("token"):
        return request.args["token"], "query"
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip() not in ("", "null", "undefined"):
        return value.strip(), "header"
    cookie = request.cookies.get(current_app.config.get("JWT_ACCESS_COOKIE_NAME", "token"))
    if cookie:
        return cookie, "cookie"
    return None, None


def anonymous_allowed():
    """A page served by the gateway (a proxied request from the gateway's own configured
    origin, never the one its Host or X-Forwarded-Host names), with compatibility on.
    Direct API clients without a credential stay refused, with the message they always
    had; an anonymous socket is told nothing either way."""
    # Browsers send no Origin on a same-origin GET (the polling handshake), but
    # Fetch Metadata says where the request comes from.
    same_origin = (request.headers.get("Sec-Fetch-Site") == "same-origin"
                   or request.headers.get("Origin") in own_origins(current_app))
    return bool(current_app.config.get("COMPAT_ROUTES") and same_origin
                and request.headers.get("X-Forwarded-For"))


def claimed_id_matches(account_id):
    """QuickChat's `?userId=`: honoured only when it names the authenticated account."""
    claimed = request.args.get("userId")
    return claimed is None or claimed == account_id


def join_matches(data, account_id, role):
    """The Uber clone's `join {userId, userType}` names this very connection's account."""
    return (isinstance(data, dict) and account_id is not None
            and data.get("userId") == account_id and data.get("userType") == role)

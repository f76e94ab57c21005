"""Who a Socket.IO connection is, without ever trusting a client-stated identity.

The credential is, in this order, `auth.token`, the `token` query parameter, an
`Authorization: Bearer` header, then the HttpOnly `token` cookie (which only a
same-origin page sends: a frontend's bare `io(url)` carries nothing else). A present
but invalid credential is refused; a connection without one is refused unless the
app's `anonymous` socket hook accepts it.
"""
from flask import current_app, request


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

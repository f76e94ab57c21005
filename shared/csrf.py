"""Cross-site request forgery: a state-changing request that the `token` cookie alone
authenticates must come from a page of a trusted origin.

A browser attaches the cookie to any page's form post, no-cors fetch, link or image
(SameSite=None with a frontend on another site; Lax still sends it on a top-level
navigation), but it adds an `Authorization` or `token` header only after a CORS
preflight, which only CORS_ORIGINS pass. So, before each request:

- With a Bearer `Authorization` header (a placeholder such as `Bearer null`
  included) or a `token` header, nothing more is asked.
- A POST, PUT, PATCH or DELETE with the cookie and neither header must be same-origin:
  `Sec-Fetch-Site: same-origin` (or `none`: typed by the user), or an `Origin` in
  CORS_ORIGINS or the service's own configured origins (`shared.cors.own_origins`).
- A GET that changes state (marked `@changes_state`: the compatible logout GETs) is
  never accepted with the cookie alone, same-origin or not (an `<img>` or a link on a
  page of our own origin would do it).
- A GET whose side effect is a state change (reading a conversation marks its
  messages seen) does it only when `trusted_sender()`: the same rule as a write's,
  a preflighted header or a trusted page; otherwise it only reads.

Everything else is a 403 `{"message"}`. Routes that take no token (login, register,
the public ones) and requests without the cookie are not affected.
"""
from flask import current_app, g, request

from shared.cors import trusted_origins
from shared.errors import Forbidden
from shared.web import add_facts, route_facts, takes_token

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SAME_ORIGIN_FETCHES = frozenset({"same-origin", "none"})
REFUSED = "Cross-site request refused"


def changes_state(view):
    """Mark a GET route that changes state: the cookie alone never authenticates it."""
    return add_facts(view, changes_state=True)


def preflighted():
    """Whether the request carries a header that a browser sends cross-origin only
    after a CORS preflight: a Bearer `Authorization` (placeholders too) or `token`."""
    authorization = request.headers.get("Authorization")
    if authorization is not None:
        scheme = authorization.split(maxsplit=1)[:1]
        if scheme in ([], ["Bearer"]):
            return True
    return "token" in request.headers


def same_origin():
    """Fetch Metadata or the Origin header says that a trusted page sent the request."""
    if request.headers.get("Sec-Fetch-Site") in SAME_ORIGIN_FETCHES:
        return True
    return request.headers.get("Origin") in trusted_origins(current_app)


def trusted_sender():
    """Whether this request may change state (the one rule of this module): it carries
    a preflighted header (`preflighted`) or a trusted page sent it (`same_origin`).
    Decided once, before the compatibility layer rewrites the token headers."""
    if "trusted_sender" not in g:
        g.trusted_sender = preflighted() or same_origin()
    return g.trusted_sender


def routed_view():
    return current_app.view_functions.get(request.endpoint)


def refuse_cross_site():
    """Before each request: 403 for a state-changing request authenticated by the
    cookie alone that does not come from a trusted page (see the module docstring)."""
    trusted_sender()
    if request.routing_exception is not None or preflighted():
        return
    if not request.cookies.get(current_app.config.get("JWT_ACCESS_COOKIE_NAME", "token")):
        return
    view = routed_view()
    if not takes_token(view):  # login, signup and public routes ignore the cookie
        return
    if request.method in BODY_METHODS and not same_origin():
        raise Forbidden(REFUSED)
    if request.method in ("GET", "HEAD") and route_facts(view).get("changes_state"):
        raise Forbidden("This route takes the token in a header, not the cookie alone")

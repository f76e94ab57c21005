"""The browser console: a single page at `/` for trying the whole system by hand.

Plain HTML, CSS and JavaScript modules from `static/` (with a vendored
Socket.IO client), so nothing is fetched from the internet at run time. The page
calls the auth service (this origin behind the gateway, else this host on
AUTH_PORT, or `?auth=<url>`) and this service, with one account per panel.
"""
from pathlib import Path

from flask import Response, current_app, request

from shared.web import Blueprint

STATIC = Path(__file__).parent / "static"

console_routes = Blueprint("console", __name__, static_folder=STATIC, static_url_path="/console",
               description="The browser console")

# The page loads only its own files; it talks to the two services, which may be on
# other ports of the same host, over HTTP and WebSocket.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data: blob: http: https:; connect-src 'self' http: https: ws: wss:; "
    "object-src 'none'; base-uri 'self'; form-action 'none'; frame-ancestors 'none'"
)


@console_routes.after_request
def revalidate(response):
    """The page and its files are small: browsers always revalidate them (ETag), so an
    upgraded page never runs with stale scripts."""
    response.cache_control.no_cache = True
    return response


PAGE_DOC = {"200": {"description": "The console page",
                    "content": {"text/html": {"schema": {"type": "string"}}}}}


@console_routes.get("/")
@console_routes.doc(responses=PAGE_DOC)
def index():
    """Browser console (HTML page).

    Act as a rider, a captain and a chat user in one browser, with a live log of every
    socket event."""
    return page()


@console_routes.get("/console/")
@console_routes.doc(responses=PAGE_DOC)
def index_under_console():
    """Browser console (HTML page), also at /console/.

    For a gateway that serves a frontend at `/`: the page's relative URLs (its files,
    this service's routes) resolve against `../` through a `<base>` element."""
    return page('<base href="../">')


# Headers a proxy adds on its way to this service (both gateways set X-Forwarded-For).
PROXY_HEADERS = ("X-Forwarded-For", "X-Forwarded-Host", "Forwarded")


def proxied():
    """Whether this request came through a proxy (a gateway): the page then calls the
    auth service on its own origin, without probing for it first (a probe of a route
    this service lacks would show a 404 in the browser's devtools on every load)."""
    return any(name in request.headers for name in PROXY_HEADERS)


def page(base=""):
    """The page, with AUTH_PORT and whether it came through a proxy filled in, and
    `base` (an HTML element) in its head."""
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    html = html.replace("__AUTH_PORT__", str(current_app.config["AUTH_PORT"]))
    html = html.replace("__PROXIED__", "true" if proxied() else "false")
    if base:
        html = html.replace('<meta charset="utf-8">', f'<meta charset="utf-8">\n  {base}', 1)
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = PAGE_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response

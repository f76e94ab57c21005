"""The browser console: a single page at `/` for trying the whole system by hand.

Plain HTML, CSS and JavaScript modules from `static/` (with a vendored
Socket.IO client), so nothing is fetched from the internet at run time. The page
calls the auth service at the one URL this server writes into it (this origin behind
a gateway, else this host on AUTH_PORT; never one from the page's address) and this
service, with one account per panel; its Content-Security-Policy lets it connect to
nothing else. On unless APP_ENV=production; CONSOLE_ENABLED decides (`enabled`).
"""
import re
from pathlib import Path
from urllib.parse import urlsplit

from flask import Response, current_app, request
from markupsafe import escape

from shared.web import Blueprint

STATIC = Path(__file__).parent / "static"

console_routes = Blueprint("console", __name__, static_folder=STATIC, static_url_path="/console",
               description="The browser console")

# The page loads only its own files, and connects only to this origin (HTTP and
# WebSocket: 'self') and to the auth service's origin when that is another one.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data: blob: http: https:; connect-src 'self'{auth}; "
    "object-src 'none'; base-uri 'self'; form-action 'none'; frame-ancestors 'none'"
)
HOST_NAME = re.compile(r"(?:[a-z0-9-]{1,63}\.)*[a-z0-9-]{1,63}")
IPV6 = re.compile(r"[0-9a-f:.]+")


def console_enabled(config):
    """Whether to serve the console: CONSOLE_ENABLED when set, else everywhere but
    production (a page that takes passwords is not for the public origin unasked)."""
    setting = config.get("CONSOLE_ENABLED")
    if setting is None:
        return config["APP_ENV"] != "production"
    return setting


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
    auth service on its own origin, which the gateway routes there. A client that
    writes such a header itself only gets a page that looks on its own origin."""
    return any(name in request.headers for name in PROXY_HEADERS)


def page_host():
    """This request's host name (bracketed when IPv6), or None when it is not a plain
    name or address."""
    try:
        name = urlsplit(f"//{request.host}").hostname or ""
    except ValueError:
        return None
    if HOST_NAME.fullmatch(name):
        return name
    return f"[{name}]" if IPV6.fullmatch(name) else None


def auth_url():
    """The auth service's URL for the page: "" (the page's own origin) behind a
    gateway, else this host on AUTH_PORT ("" for a host that is no plain name)."""
    host = None if proxied() else page_host()
    if host is None:
        return ""
    return f"{request.scheme}://{host}:{current_app.config['AUTH_PORT']}"


def page(base=""):
    """The page, with the auth service's URL filled in (and allowed by its policy), and
    `base` (an HTML element) in its head."""
    auth = auth_url()
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    html = html.replace("__AUTH_URL__", str(escape(auth)))
    if base:
        html = html.replace('<meta charset="utf-8">', f'<meta charset="utf-8">\n  {base}', 1)
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = PAGE_POLICY.format(
        auth=f" {auth}" if auth else "")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response

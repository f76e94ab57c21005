"""The routing table of both gateways: `make run`'s (devserver/gateway.py) routes with
it, and `python -m devserver.routes` writes it into deploy/nginx.conf as `location`
blocks (a test checks the committed file is current). Paths are matched after nginx's
normalisation ($uri): percent-decoded, `.` and `..` resolved, repeated slashes merged.
"""
import itertools
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

AUTH, REALTIME = "auth", "realtime"
HEALTH_PATH = "/gateway/healthz"
# The largest request body either gateway forwards (nginx: client_max_body_size). It is
# above the services' own limits (an image is at most 5 MiB decoded, more as a data
# URL), so that they answer 413 themselves in their own shape.
MAX_BODY = 8 * 1024 * 1024


@dataclass(frozen=True)
class Route:
    """One row: `prefix` matches itself and the paths below it, whole segments only
    (`/captains/x`, never `/captain-home`); one ending in `/` only below it. `exact`:
    that path alone. `strip`: the service gets the path without the prefix
    (`/auth-service/docs` -> `/docs`). `page`: with a frontend (FRONTEND_DIR) its
    index.html answers GET here instead. `websocket`: Socket.IO, upgrades passed on
    (nginx: hour-long reads, no buffering, the sticky cookie for this path)."""

    prefix: str
    upstream: str
    exact: bool = False
    strip: bool = False
    page: bool = False
    websocket: bool = False

    def matches(self, path):
        if self.exact or path == self.prefix:
            return path == self.prefix
        if self.prefix.endswith("/"):
            return path.startswith(self.prefix)
        return path.startswith(self.prefix + "/")

    def target(self, raw_target, path, query):
        """The request target to send upstream: the client's own, or, for a `strip`
        route, the normalised path without the prefix (as nginx's `proxy_pass
        http://x/;` does)."""
        if not self.strip:
            return raw_target
        rest = quote(path[len(self.prefix) - 1:], safe="/:@!$&'()*+,;=", errors="surrogateescape")
        return rest + (f"?{query}" if query else "")


ROUTES = (
    Route("/users", AUTH),
    Route("/captains", AUTH),
    Route("/auth", AUTH, exact=True, page=True),  # the video-meeting app's login page
    Route("/auth", AUTH),
    Route("/media", AUTH),
    Route("/api/auth", AUTH),  # QuickChat's accounts (compatibility routes)
    # The video-meeting app's history (compatibility routes, on the calls domain)...
    Route("/api/v1/users/add_to_activity", REALTIME),
    Route("/api/v1/users/get_all_activity", REALTIME),
    Route("/api/v1/users", AUTH),  # ...and its accounts
    Route("/messages", REALTIME),
    Route("/rides", REALTIME),
    Route("/maps", REALTIME),  # the Uber clone's place suggestions (compatibility routes)
    Route("/api/messages", REALTIME),  # QuickChat's chat (compatibility routes)
    Route("/socket.io/", REALTIME, websocket=True),
    Route("/", REALTIME, exact=True, page=True),  # the browser console...
    Route("/console", REALTIME),  # ...its files, and the page again at /console/
    Route("/auth-service/", AUTH, strip=True),  # each service whole: /docs, /openapi.json
    Route("/realtime-service/", REALTIME, strip=True, websocket=True),
)


def normalize(raw_path):
    """The path as nginx matches it: percent-decoded, `.` and `..` segments resolved,
    repeated slashes merged, a trailing slash kept. None when it is not a path, climbs
    above the root or holds a NUL (nginx answers 400)."""
    path = unquote(raw_path, errors="surrogateescape")
    if not path.startswith("/") or "\0" in path:
        return None
    segments = []
    parts = path.split("/")[1:]
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == "..":
            if not segments:
                return None
            segments.pop()
            if last:
                segments.append("")
        elif part == ".":
            if last:
                segments.append("")
        elif part or last:
            segments.append(part)
    return "/" + "/".join(segments)


def split_target(raw_target):
    """(normalised path or None, query string) of a request target."""
    raw_path, _, query = raw_target.partition("?")
    return normalize(raw_path), query


def redirect_for(path):
    """Where a path that is a slash-ended prefix without its slash is sent (nginx's 301
    for `location /socket.io/` asked as `/socket.io`), or None."""
    for route in ROUTES:
        if route.prefix.endswith("/") and not route.exact and path == route.prefix[:-1]:
            return route.prefix
    return None


def resolve(path):
    """The first route that matches the normalised `path`, or None."""
    return next((route for route in ROUTES if route.matches(path)), None)


# deploy/nginx.conf's part written from the table, between these two lines.
NGINX_CONF = Path(__file__).resolve().parent.parent / "deploy" / "nginx.conf"
NGINX_BEGIN = "        # Generated by `python -m devserver.routes` from its table: edit it there.\n"
NGINX_END = "        # End of the generated routes.\n"
# nginx inherits proxy_set_header and add_header only into a location that sets none of
# its own: a websocket route repeats the server's.
NGINX_WEBSOCKET = """proxy_set_header Host $http_host;
proxy_set_header Upgrade $http_upgrade;
proxy_set_header Connection $connection_upgrade;
proxy_set_header X-Forwarded-For $remote_addr;
proxy_set_header X-Forwarded-Proto $scheme;
proxy_set_header X-Request-ID $req_id;
# Long-polling holds a request up to the ping interval; websockets for hours.
proxy_read_timeout 1h;
proxy_send_timeout 1h;
proxy_buffering off;
add_header X-Request-ID $req_id always;
add_header Set-Cookie "rw_route=$sticky_key; Path={path}; HttpOnly; SameSite=Lax" always;"""


def nginx_location(match, *lines):
    body = "".join(f"            {line}\n" if line else "\n" for line in lines)
    return f"        location {match} {{\n{body}        }}\n"


def nginx_route(route):
    """The location block(s) of one route that is not a plain segment prefix."""
    proxy = f"proxy_pass http://{route.upstream}{'/' if route.strip else ''};"
    extra = NGINX_WEBSOCKET.format(path=route.prefix).splitlines() if route.websocket else []
    if route.exact and route.page:
        page = f"@{route.upstream}_page"
        return (nginx_location(f"= {route.prefix}", f"try_files /index.html {page};")
                + "\n" + nginx_location(page, proxy))
    if route.exact:
        return nginx_location(f"= {route.prefix}", proxy, *extra)
    if not route.prefix.endswith("/") or route.page:
        raise ValueError(f"nginx cannot express the route {route}")
    return nginx_location(f"^~ {route.prefix}", proxy, *extra)


def is_segment_prefix(route):
    return not (route.exact or route.strip or route.page or route.websocket
                or route.prefix.endswith("/"))


def nginx_routes():
    """The routing part of nginx.conf's server block: the body limit, the health path
    and one location per route (a regex for consecutive segment prefixes of a service)."""
    parts = [f"        client_max_body_size {MAX_BODY // (1024 * 1024)}m;\n",
             nginx_location(f"= {HEALTH_PATH}", "default_type application/json;",
                            """return 200 '{"status":"ok"}';""")]
    for (segments, upstream), group in itertools.groupby(
            ROUTES, key=lambda route: (is_segment_prefix(route), route.upstream)):
        if segments:
            names = "|".join(re.escape(route.prefix[1:]) for route in group)
            parts.append(nginx_location(f"~ ^/({names})(/|$)", f"proxy_pass http://{upstream};"))
        else:
            parts.extend(nginx_route(route) for route in group)
    return NGINX_BEGIN + "\n".join(parts) + "\n" + NGINX_END


def with_nginx_routes(conf):
    """`conf` (nginx.conf's text) with its generated part written anew from the table."""
    head, begin, rest = conf.partition(NGINX_BEGIN)
    _, end, tail = rest.partition(NGINX_END)
    if not (begin and end):
        raise ValueError("nginx.conf has lost the lines around its generated routes")
    return head + nginx_routes() + tail


if __name__ == "__main__":
    NGINX_CONF.write_text(with_nginx_routes(NGINX_CONF.read_text()))
    sys.exit(0)

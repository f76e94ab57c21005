"""The gateway's routing table: which service answers which path, for both gateways.

`make run`'s gateway (devserver/gateway.py) routes with this table; production's nginx
(deploy/nginx.conf) has the same routes written as `location` blocks, and
tests/test_devgateway.py sends the same paths through both and checks that every path
reaches the service this table names, with the same path.

Paths are matched after the normalisation nginx does ($uri): percent-decoded, `.` and
`..` resolved, repeated slashes merged.
"""
from dataclasses import dataclass
from urllib.parse import quote, unquote

AUTH, REALTIME = "auth", "realtime"
HEALTH_PATH = "/gateway/healthz"
# The largest request body either gateway forwards (nginx: client_max_body_size). It is
# above the services' own limits (an image is at most 5 MiB decoded, more as a data
# URL), so that they answer 413 themselves in their own shape.
MAX_BODY = 8 * 1024 * 1024


@dataclass(frozen=True)
class Route:
    """One row of the table.

    `prefix` matches itself and the paths below it, whole segments only: `/captains`
    matches `/captains` and `/captains/x`, never `/captain-home`; a prefix ending in
    `/` matches only below it. `exact`: that path alone. `strip`: the service gets
    the path without the prefix (`/auth-service/docs` -> `/docs`). `page`: when the
    gateway serves a frontend (FRONTEND_DIR), its index.html answers GET here instead.
    `websocket`: a websocket upgrade is passed on (nginx's `Upgrade` header), and the
    connection becomes a tunnel once the service answers 101.
    """

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
    Route("/auth", AUTH),
    Route("/media", AUTH),
    Route("/api/auth", AUTH),  # QuickChat's accounts (compatibility routes)
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

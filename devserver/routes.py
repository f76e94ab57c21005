"""The one routing table of both gateways is deploy/nginx.conf's `location` blocks:
`make run`'s gateway (devserver/gateway.py) reads them here and picks a route as nginx
does. Paths are matched after nginx's normalisation ($uri): percent-decoded, `.` and
`..` resolved, repeated slashes merged.
"""
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

NGINX_CONF = Path(__file__).resolve().parent.parent / "deploy" / "nginx.conf"
HEALTH_PATH = "/gateway/healthz"
LOCATION = re.compile(r"\s*location\s+(?:(=|~|\^~)\s+)?(\S+)\s*\{")
PROXY = re.compile(r"proxy_pass http://(\w+)(/?);")
PAGE = re.compile(r"try_files /index\.html (@\w+);")


@dataclass(frozen=True)
class Route:
    """A location that proxies: `kind` is nginx's modifier (`=` that path alone, `^~` a
    prefix, `~` a regex), `strip` (a `proxy_pass` ending in `/`) sends the path without
    the prefix, `page` (`try_files /index.html`) lets a frontend's index.html answer GET
    here, `websocket` (it sets the Upgrade header) passes upgrades on."""

    kind: str
    match: str
    upstream: str
    strip: bool = False
    page: bool = False
    websocket: bool = False

    def matches(self, path):
        if self.kind == "=":
            return path == self.match
        return path.startswith(self.match) if self.kind == "^~" else bool(
            re.search(self.match, path))

    def target(self, raw_target, path, query):
        """The request target to send upstream: the client's own, or, for a `strip`
        route, the normalised path without the prefix (nginx's `proxy_pass http://x/;`)."""
        if not self.strip:
            return raw_target
        rest = quote(path[len(self.match) - 1:], safe="/:@!$&'()*+,;=", errors="surrogateescape")
        return rest + (f"?{query}" if query else "")


def locations(conf):
    """{(modifier, match): the block's text} of every `location` of `conf`, in order."""
    blocks, current, depth = {}, None, 0
    for line in conf.splitlines():
        if current is None and (found := LOCATION.match(line)):
            current = blocks.setdefault(found.groups(), [])
        if current is not None:
            current.append(line.strip())
            depth += line.count("{") - line.count("}")
            current = current if depth else None
    return {key: "\n".join(lines) for key, lines in blocks.items()}


def read_routes(conf):
    """The locations of `conf` that reach a service (a named one through `try_files`)."""
    blocks, routes = locations(conf), []
    for (kind, match), text in blocks.items():
        page = PAGE.search(text)
        proxied = blocks[None, page[1]] if page else text
        if kind and (proxy := PROXY.search(proxied)):
            routes.append(Route(kind, match, proxy[1], bool(proxy[2]), bool(page),
                                "proxy_set_header Upgrade" in proxied))
    return tuple(routes)


ROUTES = read_routes(NGINX_CONF.read_text())
# The largest request body either gateway forwards (above the services' own limits, so
# that they answer 413 themselves in their own shape).
MAX_BODY = int(re.search(r"client_max_body_size (\d+)m;", NGINX_CONF.read_text())[1]) << 20


def resolve(path):
    """The route nginx picks for a normalised path: the exact location, else the longest
    `^~` prefix, else the first regex; None when only `location /` matches."""
    found = [route for route in ROUTES if route.matches(path)]
    ranked = sorted(found, key=lambda route: (route.kind != "=", route.kind != "^~",
                                              -len(route.match) * (route.kind == "^~")))
    return ranked[0] if ranked else None


def redirect_for(path):
    """Where nginx sends a `^~` prefix asked without its final slash (`/socket.io`)."""
    return next((route.match for route in ROUTES if route.kind == "^~"
                 and route.match.endswith("/") and path == route.match[:-1]), None)


def split_target(raw_target):
    """(path, query string) of a request target, the path as nginx matches it:
    percent-decoded, `.` and `..` segments resolved, repeated slashes merged, a trailing
    slash kept; None when it is not a path, climbs above the root or holds a NUL (nginx
    answers 400)."""
    raw_path, _, query = raw_target.partition("?")
    path = unquote(raw_path, errors="surrogateescape")
    if not path.startswith("/") or "\0" in path:
        return None, query
    segments = []
    for part in path.split("/")[1:]:
        if part == "..":
            if not segments:
                return None, query
            segments.pop()
        elif part not in ("", "."):
            segments.append(part)
    slash = "/" if segments and path.endswith(("/", "/.", "/..")) else ""
    return "/" + "/".join(segments) + slash, query

"""The documentation stays true to the code: every route of both generated OpenAPI
specs and every socket event is in docs/api.md, every setting of shared.config is in
docs/configuration.md, every relative link resolves, and the README stays a first
read."""
import re
from pathlib import Path

import pytest

from shared.config import Config

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
README_MAX_BYTES = 8192
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
# A backticked word of the socket description that names something: an event, a field.
IDENTIFIER = re.compile(r"`([A-Za-z][A-Za-z0-9_-]*)`")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)


def read(path):
    return path.read_text(encoding="utf-8")


def spec_of(service, config):
    """The OpenAPI document the service generates (what /openapi.json serves)."""
    if service == "auth":
        from auth_service.app import create_app
    else:
        from realtime_service.app import create_app
    return create_app(config).extensions["api"].spec.to_dict()


def operations(spec):
    """Every `(METHOD, path)` of a spec, in the form docs/api.md writes them."""
    return [(method.upper(), path) for path, item in spec["paths"].items()
            for method in item if method in HTTP_METHODS]


@pytest.mark.parametrize("service", ["auth", "realtime"])
def test_every_route_of_the_spec_is_in_api_md(service, config):
    """Each operation appears as "`GET /rides/{ride_id}`" (in a table row or a list)."""
    api_md = read(DOCS / "api.md")
    routes = operations(spec_of(service, config))
    assert routes, "the spec has no routes"
    missing = [f"{method} {path}" for method, path in routes
               if f"`{method} {path}`" not in api_md]
    assert missing == [], f"docs/api.md does not name these routes: {missing}"


def socket_names(description):
    """The backticked names of the Socket.IO description: events, and the words around
    them (`token`, `Authorization`...), which api.md names too."""
    return sorted(set(IDENTIFIER.findall(description)))


def test_every_socket_event_of_the_spec_is_in_api_md(config):
    description = spec_of("realtime", config)["paths"]["/socket.io/"]["get"]["description"]
    names = socket_names(description)
    assert {"newMessage", "ride-confirmed", "session-revoked"} <= set(names)
    api_md = read(DOCS / "api.md")
    missing = [name for name in names if f"`{name}`" not in api_md]
    assert missing == [], f"docs/api.md does not name these socket events: {missing}"


def settings():
    """The upper-case attributes of shared.config.Config: every setting it reads."""
    return sorted(name for name in vars(Config) if name.isupper())


def test_every_setting_is_in_configuration_md():
    configuration = read(DOCS / "configuration.md")
    names = settings()
    assert "MONGO_URI" in names and "GATEWAY_PORT" in names
    missing = [name for name in names if f"`{name}`" not in configuration]
    assert missing == [], f"docs/configuration.md does not document: {missing}"


def markdown_files():
    return [README, *sorted(DOCS.glob("*.md"))]


def github_anchor(heading):
    """The id GitHub gives a heading: lower-cased, punctuation dropped, spaces to
    dashes."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path):
    text = FENCE.sub("", read(path))
    return {github_anchor(line.lstrip("#")) for line in text.splitlines()
            if line.startswith("#")}


def relative_links(path):
    """The link targets of a Markdown file that point into the repository."""
    text = FENCE.sub("", read(path))
    return [target for target in LINK.findall(text)
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target)]


@pytest.mark.parametrize("path", markdown_files(), ids=lambda path: path.name)
def test_relative_links_resolve(path):
    broken = []
    for target in relative_links(path):
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(target)
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(target)
    assert broken == [], f"{path.name}: broken links {broken}"


def test_readme_is_a_first_read():
    """At most 8 KiB, and it answers the first hour's questions."""
    readme = README.read_bytes()
    assert len(readme) <= README_MAX_BYTES, f"README.md is {len(readme)} bytes"
    text = readme.decode("utf-8")
    for needed in ("make run", "http://127.0.0.1:5000", "/console/", "CORS_ORIGINS",
                   "FRONTEND_DIR", "docs/compat.md", "docs/api.md", "PYTEST_ARGS",
                   "RATELIMIT_ENABLED=false", "make reset", "BENCHMARKS.md"):
        assert needed in text, f"README.md does not mention {needed}"

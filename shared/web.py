"""flask-smorest, set up for the API's contract (docs/api.md).

- `Blueprint`: `@blp.arguments` parses with `Parser` (every failing field at once,
  400 in express-validator's shape, not webargs' 422), `@blp.response` dumps with
  the declared schema.
- Route facts: decorators state what a route does (`auth_required`: takes a token of
  these roles; `without_database`: never touches the database) with `add_facts`, an
  attribute of the view that `functools.wraps` carries up. The CSRF rule reads them,
  and `ErrorDocs` documents from them the errors every client must expect (400/413/415
  with a body, 401/403 with a token, 500/503 always).
- `Api`: the spec's error components in the API's shapes; no error handler of its own
  (shared.errors has the only ones).
"""
import http
from importlib.metadata import PackageNotFoundError, version

import flask_smorest
from flask_smorest.spec.plugins import FlaskPlugin
from webargs.flaskparser import FlaskParser

from shared.errors import Invalid
from shared.schemas import Error, ValidationErrors
from shared.validation import flatten_errors, json_object

LOCATIONS = {"json": "body", "query": "query", "querystring": "query", "view_args": "params",
             "path": "params"}
FACTS = "x-route-facts"  # carried through the operation's doc, removed by ErrorDocs


def add_facts(view, **facts):
    """State facts of a route on its view (`roles`, `security`, `database`, ...)."""
    view.route_facts = {**route_facts(view), **facts}
    return view


def route_facts(view):
    return getattr(view, "route_facts", {})


def takes_token(view):
    """Whether the route authenticates its caller (`auth_required`)."""
    return route_facts(view).get("roles") is not None


def without_database(view):
    """Mark a route that never touches the database (so it documents no 503)."""
    return add_facts(view, database=False)


class Parser(FlaskParser):
    DEFAULT_VALIDATION_STATUS = 400

    def load_json(self, req, schema):
        return json_object()

    def handle_error(self, error, req, schema, *, error_status_code, error_headers):
        errors = []
        for location, messages in error.messages.items():
            errors.extend(flatten_errors(messages, LOCATIONS.get(location, location)))
        raise Invalid(errors)


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()
    DOC_HOOKS = ()  # functions (operation, facts) that a blueprint applies to its docs

    def route(self, rule, **options):
        """flask-smorest's route, which also hands the view's facts to its doc (with
        the doc hooks of its decorators, then the blueprint's)."""
        register = super().route(rule, **options)

        def decorator(view):
            facts = route_facts(view)
            facts = {**facts, "hooks": [*facts.get("hooks", ()), *self.DOC_HOOKS]}
            return register(self.doc(**{FACTS: facts})(view))

        return decorator

    def errors(self, *codes):
        """Document the errors a route answers beyond those added for its body, query
        and token (e.g. `@bp.errors(404, 409)`), each in the shape of the API (docs/api.md)."""

        def decorator(view):
            for code in reversed(codes):
                view = self.alt_response(code, response=http.HTTPStatus(code).name)(view)
            return view

        return decorator


class ErrorDocs(FlaskPlugin):
    """flask-smorest's Flask plugin, which also completes each operation from the facts
    of its route: its security and the error responses its body, query and token imply,
    then the blueprint's doc hooks. It runs before the marshmallow plugin, so a hook may
    name schema classes."""

    def operation_helper(self, path=None, operations=None, **kwargs):
        for operation in (operations or {}).values():
            facts = operation.pop(FACTS, None)
            if facts is None:
                continue  # not a route of ours (the Socket.IO endpoint's own doc)
            document_errors(operation, facts)
            for hook in facts.get("hooks", ()):
                hook(operation, facts)


def document_errors(operation, facts):
    """Add the error responses implied by the operation's body, query and token."""
    codes = {500, 503} if facts.get("database", True) else {500}
    if "requestBody" in operation:
        codes |= {400, 413, 415}
    if any(param.get("in") == "query" for param in operation.get("parameters", [])):
        codes.add(400)
    roles = facts.get("roles")
    if roles is not None:
        operation.setdefault("security", facts["security"])
        codes.add(401)
        if roles:
            codes.add(403)
    responses = operation.setdefault("responses", {})
    for code in sorted(codes):
        if code not in responses and str(code) not in responses:
            responses[code] = http.HTTPStatus(code).name


def _package_version():
    try:
        return version("ridewire")
    except PackageNotFoundError:
        return "0.0.0"


ERROR_REF = {"$ref": "#/components/schemas/Error"}
ERROR_DESCRIPTIONS = {
    400: "Validation failed (every failing field), a malformed JSON body or path id",
    401: "Missing, malformed, expired or revoked token, or wrong credentials",
    403: "A valid token of the other role (user vs captain), or not a party of the object",
    404: "Not found",
    409: ("Conflict with the current state (duplicate, already taken, already open, a "
          "request with the same Idempotency-Key still running)"),
    413: "Request body too large",
    415: "The request body is not application/json",
    422: "The Idempotency-Key was used for another request",
    429: "Too many requests; see Retry-After",
    500: "Internal server error (never carries exception text)",
    503: "Database unavailable",
}


class Api(flask_smorest.Api):
    def _register_error_handlers(self):
        """shared.errors registers the app's handlers; flask-smorest's would answer in
        another shape."""

    def _register_responses(self):
        self.spec.components.schema("Error", schema=Error)
        self.spec.components.schema("ValidationErrors", schema=ValidationErrors)
        for status in http.HTTPStatus:
            if status < 400:
                continue
            schema = ERROR_REF
            if status == 400:
                schema = {"oneOf": [{"$ref": "#/components/schemas/ValidationErrors"},
                                    ERROR_REF]}
            response = {"description": ERROR_DESCRIPTIONS.get(status, status.phrase),
                        "content": {"application/json": {"schema": schema}}}
            if status == 429:
                response["headers"] = {"Retry-After": {
                    "description": "Seconds to wait", "schema": {"type": "integer"}}}
            self.spec.components.response(status.name, response, lazy=True)
        self.spec.components.response("DEFAULT_ERROR", {
            "description": "Any other error", "content": {"application/json": {
                "schema": ERROR_REF}}}, lazy=True)

    def _register_etag_headers(self):
        """No ETags on the API."""

    def _register_pagination_header(self):
        """Pages are cursors in the body, not headers."""


def init_api(app):
    """The app's flask-smorest Api; its spec is served by shared.apidocs."""
    app.config.setdefault("API_TITLE", "Ridewire " + app.name.replace("_", " ").title()
                          .replace("Service", "service"))
    app.config.setdefault("API_VERSION", _package_version())
    app.config.setdefault("OPENAPI_VERSION", "3.1.0")
    app.config.setdefault("API_SPEC_OPTIONS", {"info": {"description": (
        "Generated from the marshmallow schemas of the service. Errors are "
        "`{\"message\"}`, validation errors `{\"errors\": [{\"msg\", \"param\", "
        "\"location\"}]}`.")}})
    api = Api(app, spec_kwargs={"flask_plugin": ErrorDocs()})
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    api.spec.components.security_scheme(
        "cookieAuth", {"type": "apiKey", "in": "cookie", "name": "token"})
    app.extensions["api"] = api
    return api

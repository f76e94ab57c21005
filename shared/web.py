"""flask-smorest, set up for API.md's contract.

- `Blueprint`: `@blp.arguments` parses with `Parser` (every failing field at once,
  400 in express-validator's shape, not webargs' 422), `@blp.response` dumps with
  the declared schema; each operation also documents the errors every client must
  expect (400/413/415 with a body, 401/403 with a token, 500/503 always).
- `Api`: the spec's error components in API.md's shapes; no error handler of its own
  (shared.errors has the only ones).
"""
import http
from importlib.metadata import PackageNotFoundError, version

import flask_smorest
from webargs.flaskparser import FlaskParser

from shared.errors import Invalid
from shared.schemas import Error, ValidationErrors
from shared.validation import flatten_errors, json_object

LOCATIONS = {"json": "body", "query": "query", "querystring": "query", "view_args": "params",
             "path": "params"}
AUTH_DOC = "_auth"  # key in a view's `_apidoc`: the roles its token must have ([] = any)
NO_DATABASE_DOC = "_no_database"


def without_database(view):
    """Mark a route that never touches the database (so it documents no 503)."""
    view._apidoc = {**getattr(view, "_apidoc", {}), NO_DATABASE_DOC: True}
    return view


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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._prepare_doc_cbks.append(self._prepare_error_doc)

    def errors(self, *codes):
        """Document the errors a route answers beyond those added for its body, query
        and token (e.g. `@bp.errors(404, 409)`), each in the shape of API.md."""

        def decorator(view):
            for code in reversed(codes):
                view = self.alt_response(code, response=http.HTTPStatus(code).name)(view)
            return view

        return decorator

    @staticmethod
    def _prepare_error_doc(doc, doc_info, *, method, **kwargs):
        """Add the error responses implied by the operation's body, query and token."""
        codes = {500} if doc_info.get(NO_DATABASE_DOC) else {500, 503}
        if "requestBody" in doc:
            codes |= {400, 413, 415}
        if any(param.get("in") == "query" for param in doc.get("parameters", [])):
            codes.add(400)
        roles = doc_info.get(AUTH_DOC)
        if roles is not None:
            codes.add(401)
            if roles:
                codes.add(403)
        responses = doc.setdefault("responses", {})
        for code in sorted(codes):
            if code not in responses and str(code) not in responses:
                responses[code] = http.HTTPStatus(code).name
        return doc


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
    409: "Conflict with the current state (duplicate, already taken, already open)",
    413: "Request body too large",
    415: "The request body is not application/json",
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
    api = Api(app)
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    api.spec.components.security_scheme(
        "cookieAuth", {"type": "apiKey", "in": "cookie", "name": "token"})
    app.extensions["api"] = api
    return api

"""OpenAPI metadata attached to route handlers; the spec is generated from it.

    @bp.post("/register")
    @doc(body=RegisterSchema, responses={201: AuthResponseSchema, 400: None, 409: None},
         auth=None, summary="Register a user")
    def register(): ...

`body` and `query` are marshmallow schema classes (or instances); `responses` maps
status codes to a schema (or None for the standard error shape); `auth` is the
role required ("user", "captain", "any") or None. The handler's docstring is the
description. The generator (`build_spec`) walks the app's url_map, so a route
without `@doc` still appears (with its docstring and a plain 200).

Error responses every client must expect are added by the generator: 400/413/415
for a JSON body, 400 for a query, 400/404 for an id in the path, 401/403 for an
authenticated route, and 500/503 everywhere.
"""
import inspect
import re
from http import HTTPStatus
from importlib.metadata import PackageNotFoundError, version

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import resolve_schema_cls

from shared.openapi_components import (
    ERROR_RESPONSES,
    SCHEMAS,
    SECURITY_SCHEMES,
    error_response_ref,
    socketio_path,
)

SKIPPED_METHODS = {"HEAD", "OPTIONS"}
CONVERTER_TYPES = {"int": {"type": "integer"}, "float": {"type": "number"}}
OBJECT_ID = {"type": "string", "pattern": "^[0-9a-fA-F]{24}$"}
RULE_ARGUMENT = re.compile(r"<(?:(?P<converter>[a-zA-Z_]+)(?:\([^>]*\))?:)?(?P<name>\w+)>")


def doc(*, body=None, query=None, responses=None, auth=None, summary=None, tags=None):
    def decorator(view):
        view._openapi = {
            "body": body,
            "query": query,
            "responses": responses or {},
            "auth": auth,
            "summary": summary,
            "tags": tags,
        }
        return view

    return decorator


def _package_version():
    try:
        return version("ridewire")
    except PackageNotFoundError:
        return "0.0.0"


def _name_resolver():
    """Schema component names: the class name without "Schema"; two different
    classes with the same name get their module name as a prefix."""
    owners = {}

    def resolve(schema):
        cls = resolve_schema_cls(schema)
        name = cls.__name__.removesuffix("Schema") or cls.__name__
        if owners.setdefault(name, cls) is not cls:
            module = cls.__module__.rsplit(".", 1)[-1].title().replace("_", "")
            name = f"{module}{name}"
            owners.setdefault(name, cls)
        return name

    return resolve


def build_spec(app):
    """The OpenAPI 3.1 document (a dict) of every route registered on `app`."""
    title = app.name.replace("_", " ").title().replace("Service", "service")
    spec = APISpec(
        title=f"Ridewire {title}",
        version=_package_version(),
        openapi_version="3.1.0",
        plugins=[MarshmallowPlugin(schema_name_resolver=_name_resolver())],
        info={"description": (
            "Generated from the marshmallow schemas and route metadata of the service. "
            "Errors are `{\"message\"}`, validation errors "
            "`{\"errors\": [{\"msg\", \"param\", \"location\"}]}`.")},
    )
    for name, schema in SCHEMAS.items():
        spec.components.schema(name, schema)
    for name, scheme in SECURITY_SCHEMES.items():
        spec.components.security_scheme(name, scheme)
    for status, response in ERROR_RESPONSES.items():
        spec.components.response(f"Error{status}", response)

    paths = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        view = app.view_functions[rule.endpoint]
        path, parameters = _path_and_parameters(rule.rule)
        operations = paths.setdefault(path, {})
        for method in sorted(rule.methods - SKIPPED_METHODS):
            operations[method.lower()] = _operation(rule, method, view, parameters)
    if "socketio" in app.extensions:
        paths["/socket.io/"] = socketio_path()
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def _path_and_parameters(rule):
    """Flask `/rides/<id>` -> OpenAPI `/rides/{id}` and its path parameters."""
    parameters = []

    def replace(match):
        name, converter = match.group("name"), match.group("converter")
        schema = CONVERTER_TYPES.get(converter)
        if schema is None:
            schema = OBJECT_ID if name == "id" or name.endswith(("_id", "Id")) else {
                "type": "string"}
        parameters.append({"in": "path", "name": name, "required": True, "schema": schema})
        return "{" + name + "}"

    return RULE_ARGUMENT.sub(replace, rule), parameters


def _operation(rule, method, view, path_parameters):
    meta = getattr(view, "_openapi", None) or {}
    description = inspect.getdoc(view) or ""
    summary = meta.get("summary") or (description.splitlines()[0] if description else None)
    blueprint = rule.endpoint.rsplit(".", 1)[0] if "." in rule.endpoint else "service"
    operation = {
        "operationId": rule.endpoint.replace(".", "_") + (
            "" if len(rule.methods - SKIPPED_METHODS) == 1 else "_" + method.lower()),
        "tags": list(meta.get("tags") or [blueprint]),
        "parameters": list(path_parameters),
        "responses": {},
    }
    if summary:
        operation["summary"] = summary
    if description:
        operation["description"] = description

    errors = {500}
    if rule.endpoint != "health.healthz" and not rule.endpoint.startswith("apidocs."):
        errors.add(503)  # routes that need the database
    if path_parameters:
        errors.add(404)
    if any(p["schema"] is OBJECT_ID for p in path_parameters):
        errors.add(400)  # a malformed id
    if meta.get("query") is not None:
        operation["parameters"].append({"in": "query", "schema": meta["query"]})
        errors.add(400)
    if meta.get("body") is not None:
        operation["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": meta["body"]}}}
        errors.update({400, 413, 415})
    auth = meta.get("auth")
    if auth:
        operation["security"] = [{"bearerAuth": []}, {"cookieAuth": []}]
        errors.add(401)
        if auth in ("user", "captain"):
            errors.add(403)
            operation["description"] = (description + f"\n\nRequires a {auth} token.").strip()

    responses = operation["responses"]
    for status, schema in sorted((meta.get("responses") or {}).items(), key=lambda i: int(i[0])):
        status = int(status)
        if schema is None and status >= 400:
            errors.add(status)
        else:
            responses[str(status)] = _response(status, schema)
    if not any(200 <= int(code) < 400 for code in responses):
        responses["200"] = {"description": "OK"}
    for status in sorted(errors):
        responses.setdefault(str(status), error_response_ref(status))
    if not operation["parameters"]:
        del operation["parameters"]
    return operation


def _response(status, schema):
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Response"
    if isinstance(schema, str):
        return {"description": schema}
    if isinstance(schema, dict) and "description" in schema:
        return schema
    if schema is None:
        return {"description": phrase}
    return {"description": phrase, "content": {"application/json": {"schema": schema}}}

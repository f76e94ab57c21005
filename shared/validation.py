"""Request bodies and ids, with errors in express-validator's format.

flask-smorest's `@blp.arguments` parses routes (shared.web.Parser uses `json_object`
and `flatten_errors` from here); socket handlers call `load` directly:

    data = load(LocationSchema(), payload)   # Invalid (400 shape) on failure

Every failing field is reported at once, nested fields with a dotted `param`
("fullname.firstname"), list items with their index ("stops.0.lat").
"""
import functools
import json

from bson import ObjectId
from bson.errors import InvalidId
from flask import current_app, request
from marshmallow import ValidationError

from shared.errors import ApiError, Invalid
from shared.schemas import Schema  # noqa: F401  (re-exported for older imports)

NOT_AN_OBJECT = "Expected a JSON object"


def flatten_errors(messages, location="body", prefix=""):
    """marshmallow's nested `{"field": ["msg"], "obj": {"sub": ["msg"]}}` -> flat list."""
    errors = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key == "_schema":
                param = prefix
            else:
                param = f"{prefix}.{key}" if prefix else str(key)
            errors.extend(flatten_errors(value, location, param))
    elif isinstance(messages, list | tuple):
        for item in messages:
            if isinstance(item, dict | list | tuple):
                errors.extend(flatten_errors(item, location, prefix))
            else:
                errors.append({"msg": str(item), "param": prefix, "location": location})
    else:
        errors.append({"msg": str(messages), "param": prefix, "location": location})
    return errors


def load(schema, data, location="body"):
    """Validate and deserialize `data` with `schema`; raise Invalid (400)."""
    if not isinstance(data, dict):
        raise Invalid(
            [{"msg": NOT_AN_OBJECT, "param": "", "location": location}]
        )
    try:
        return schema.load(data)
    except ValidationError as error:
        raise Invalid(flatten_errors(error.messages, location)) from None


def json_body():
    """The request's JSON object ({} when there is no body). Content-Type is enforced
    app-wide (415) by `shared.http`; here a body that is not valid JSON is a 400."""
    if not request.content_length and not request.headers.get("Transfer-Encoding"):
        return {}
    _refuse_oversized_chunked_body()
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # json.loads recurses once per nesting level
        raise ApiError(400, "JSON body is nested too deeply") from None
    if data is None:
        raise ApiError(400, "Malformed JSON body")
    if not _encodable(data):
        raise ApiError(400, "JSON body contains invalid Unicode (an unpaired surrogate)")
    return data


def json_object():
    """The request's JSON body, which must be an object ({} when there is none)."""
    data = json_body()
    if not isinstance(data, dict):
        raise Invalid([{"msg": NOT_AN_OBJECT, "param": "", "location": "body"}])
    return data


def _refuse_oversized_chunked_body():
    """Without a Content-Length (chunked encoding) werkzeug stops reading at the size
    limit without saying so, which would surface as malformed JSON: make it the 413."""
    limit = request.max_content_length
    if request.content_length is None and limit is not None:
        if len(request.get_data(cache=True)) >= limit:
            request.stream.read(1)  # at the limit: raises RequestEntityTooLarge (413)


def _encodable(data):
    """JSON may escape a lone surrogate ("\\ud800"): Python accepts it, but no UTF-8
    encoder (BSON, logs, responses) does, so it would fail later as a 500."""
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, RecursionError):
        return False
    return True


def object_id(value, param="id", location="params"):
    """A path id as an ObjectId; 400 in the validation shape when malformed."""
    try:
        return ObjectId(value)
    except (InvalidId, TypeError):
        raise Invalid(
            [{"msg": "Invalid id", "param": param, "location": location}]
        ) from None


def image_body(view):
    """Allow the larger body limit (MAX_IMAGE_BODY_LENGTH) on a route that takes an image."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        request.max_content_length = current_app.config["MAX_IMAGE_BODY_LENGTH"]
        return view(*args, **kwargs)

    return wrapper

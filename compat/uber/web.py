"""The blueprint of the Uber clone's routes (/maps and the /rides aliases): tagged
`compat` in the spec, with a `message` on every error. Validation errors keep
express-validator's `errors` and add the first one's text as `message`, because the
captain's OTP screen shows `error.response.data.message`."""
import functools
import http

from flask import jsonify, request
from marshmallow import fields

from shared.errors import Invalid, Unauthorized
from shared.schemas import Schema, ValidationError
from shared.web import ERROR_DESCRIPTIONS, Blueprint, add_facts

COMPAT_TAGS = ["compat"]


class UberError(Schema):
    """An error answer of these routes."""

    message = fields.String(required=True)
    errors = fields.List(fields.Nested(ValidationError),
                         metadata={"description": "every failing field, on validation errors"})


def _invalid(error):
    message = error.errors[0]["msg"] if error.errors else http.HTTPStatus(400).phrase
    return jsonify({"errors": error.errors, "message": message}), 400


def _bad_request_doc(operation, facts):
    """Document the 400 answers as UberError (both shapes carry a `message`)."""
    responses = operation.get("responses", {})
    for code in (400, "400"):
        if code in responses:
            responses[code] = {"description": ERROR_DESCRIPTIONS[400],
                               "content": {"application/json": {"schema": UberError}}}


class UberBlueprint(Blueprint):
    """A blueprint of the Uber clone's routes: tagged `compat`, validation errors with a
    `message`."""

    DOC_HOOKS = (_bad_request_doc,)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.register_error_handler(Invalid, _invalid)

    def route(self, rule, *, parameters=None, tags=None, **options):
        return super().route(rule, parameters=parameters, tags=tags or COMPAT_TAGS, **options)


def bearer_only(view):
    """Decorator (above `auth_required`): 401 unless the token comes in the
    Authorization header. For a GET that changes state: a cookie would be sent along
    by any page that merely links to the route."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            raise Unauthorized("This route takes the token in the Authorization header only")
        return view(*args, **kwargs)

    return add_facts(wrapper, security=[{"bearerAuth": []}])

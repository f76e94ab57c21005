"""What the QuickChat compat routes of both services share.

- Names: QuickChat has one free `fullName` string; Ridewire stores `fullname.firstname`
  and `fullname.lastname` of 3-50 characters each. `split_name` makes parts that keep
  that rule (a too short part is padded with dots), and the string as sent is kept
  beside them in `fullname.display`; `display_name` shows it for as long as the parts
  are still the ones made from it (a Ridewire profile update that changes the name
  shows the new "firstname lastname").
- Shapes: `ChatProfileOut` (a sidebar entry) and `ChatUserOut` (the own account) with
  `fullName` as one string and `profilePic` "" when there is none; media URLs are
  absolute when PUBLIC_URL is set.
- Failures: `CompatBlueprint` tags its routes `compat`, adds `success: false` to every
  error answer and documents them so; `refusals` turns the business errors of a
  service (validation, 400/401/403/404/409) into 200 `{success: false, message}`,
  which is the only failure QuickChat shows (it never reads a non-2xx body).
"""
import functools
import http

from flask import current_app, json, jsonify
from marshmallow import ValidationError, fields

from shared.errors import ApiError, Invalid
from shared.media.service import URL_PREFIX
from shared.schemas import Id, Schema, Timestamp
from shared.web import ERROR_DESCRIPTIONS, Blueprint, add_facts

NAME_MAX = 100
PART_MIN, PART_MAX = 3, 50
FILLER = "."
MISSING = "Missing Details"
BUSINESS = {400, 401, 403, 404, 409}


def _fit(part):
    return part[:PART_MAX].ljust(PART_MIN, FILLER)


def split_name(full):
    """Ridewire's `{firstname[, lastname]}` for a non-blank free name: the first word
    and the rest when both fit 3-50 characters, otherwise the whole name (at most
    NAME_MAX characters) cut at 50, each part padded to 3 with dots ("Al" -> "Al.")."""
    words = full.split()
    first, rest = words[0], " ".join(words[1:])
    if PART_MIN <= len(first) <= PART_MAX and (not rest or PART_MIN <= len(rest) <= PART_MAX):
        parts = {"firstname": first, "lastname": rest}
    else:
        joined = " ".join(words)
        head, tail = joined[:PART_MAX].rstrip(), joined[PART_MAX:].strip()
        parts = {"firstname": _fit(head), "lastname": tail and _fit(tail)}
    return {name: value for name, value in parts.items() if value}


def stored_name(full):
    """The `fullname` to store for QuickChat's `fullName` (the parts and the string)."""
    return {**split_name(full), "display": full}


def display_name(fullname):
    """QuickChat's `fullName` of a stored `fullname`."""
    fullname = fullname if isinstance(fullname, dict) else {}
    parts = {name: fullname[name] for name in ("firstname", "lastname") if fullname.get(name)}
    shown = fullname.get("display")
    if isinstance(shown, str) and shown.strip() and split_name(shown) == parts:
        return shown
    return " ".join(parts.values())


def media_url(url):
    """One of our `/media/<id>` URLs, absolute under PUBLIC_URL when it is set."""
    base = current_app.config.get("PUBLIC_URL")
    if base and isinstance(url, str) and url.startswith(URL_PREFIX):
        return base + url
    return url


class DisplayName(fields.String):
    """`fullName` dumped from the stored `fullname` object."""

    def _serialize(self, value, attr, obj, **kwargs):
        return display_name(value)


class MediaUrl(fields.String):
    """A stored media URL, absolute under PUBLIC_URL; `empty` when there is none."""

    def __init__(self, empty=None, **kwargs):
        super().__init__(dump_default=None, **kwargs)
        self.empty = empty

    def _serialize(self, value, attr, obj, **kwargs):
        return media_url(value) if value else self.empty


class ChatProfileOut(Schema):
    """An account as the QuickChat sidebar shows it (never its email)."""

    _id = Id()
    fullName = DisplayName(attribute="fullname", dump_default=dict)
    profilePic = MediaUrl(empty="", metadata={"description": "an image URL, or \"\""})
    bio = fields.String(dump_default="")


class ChatUserOut(ChatProfileOut):
    """QuickChat's `authUser`: the own account (never a password hash or token state)."""

    email = fields.String()
    createdAt = Timestamp()
    updatedAt = Timestamp()


class Outcome(Schema):
    success = fields.Boolean(required=True)
    message = fields.String(metadata={"description": "why, when `success` is false"})


def _check_name(value):
    if not value.strip() or len(value) > NAME_MAX:
        raise ValidationError(f"Full name must be 1-{NAME_MAX} characters long")


def name_field(**kwargs):
    """QuickChat's free `fullName`: any non-blank string of at most NAME_MAX characters."""
    return fields.String(validate=_check_name, **kwargs)


def refusals(invalid=None, **messages):
    """Decorator: the business errors raised under it become 200 `{success: false,
    message}`: validation errors (their first message, or `invalid` for any but
    "Missing Details") and ApiErrors 400, 401, 403, 404 and 409 (their message, or the
    one given for their status name, e.g. `conflict="Account already exists."`)."""
    by_status = {http.HTTPStatus[name.upper()]: text for name, text in messages.items()}

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            try:
                return view(*args, **kwargs)
            except Invalid as error:
                message = error.errors[0]["msg"] if error.errors else MISSING
                return failure(message if message == MISSING else invalid or message)
            except ApiError as error:
                if error.status not in BUSINESS:
                    raise
                return failure(by_status.get(error.status, error.message))

        return add_facts(wrapper, refusals=True)  # business errors are 200

    return decorator


def failure(message):
    return jsonify(success=False, message=message)


def _flag_failure(response):
    """`success: false` beside the `message` of every error answer of a compat route."""
    if response.status_code >= 400 and response.is_json:
        body = response.get_json(silent=True)
        if isinstance(body, dict) and "success" not in body:
            response.set_data(json.dumps({"success": False, **body}))
    return response


def _failure_doc(operation, facts):
    """Document every error answer as `{success: false, message}` (and no 400 under
    `refusals`, which answers those with 200)."""
    responses = operation.get("responses", {})
    if facts.get("refusals"):
        responses.pop(400, None)
        responses.pop("400", None)
    for code in list(responses):
        if code == "default":
            description = "Any other error"
        elif int(code) >= 400:
            description = ERROR_DESCRIPTIONS.get(int(code), http.HTTPStatus(int(code)).phrase)
        else:
            continue
        responses[code] = {"description": description,
                           "content": {"application/json": {"schema": Outcome}}}


class CompatBlueprint(Blueprint):
    """A blueprint of compat routes: tagged `compat` in the spec, error answers
    `{success: false, message}`."""

    DOC_HOOKS = (_failure_doc,)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.after_request(_flag_failure)

    def route(self, rule, *, parameters=None, tags=None, **options):
        return super().route(rule, parameters=parameters, tags=tags or ["compat"], **options)

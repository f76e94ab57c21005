"""What the video-meeting routes of both services share.

- Usernames: the frontend knows a username, Ridewire an email. A username is stored
  as the reserved address `<username>@meetings.invalid` (the `.invalid` top-level
  domain never delivers, and Ridewire's own routes refuse it, so no real account
  has one); a username with an `@` is a Ridewire account's own email.
- Meeting codes: one segment of the frontend's URL (`/<code>`), 1-64 printable
  characters without `/`; not one of the frontend's own pages.
- Errors: `MeetingsBlueprint` tags its routes `compat` and answers every error as
  `{message}` (the frontend shows `response.data.message`), validation errors with
  the first failing field's message.
- Tokens: `token_in` reads the frontend's token from the body or the query of its own
  routes, as a Bearer header.
"""
import functools
import http
import re

from flask import jsonify, request

from shared.accounts import emails
from shared.errors import Invalid
from shared.web import ERROR_DESCRIPTIONS, Blueprint

DOMAIN = "meetings.invalid"
USERNAME = re.compile(r"[A-Za-z0-9_-](?:[A-Za-z0-9._-]{1,28}[A-Za-z0-9_-])")
USERNAME_RULE = ("Username must be 3-30 letters, digits, dots, dashes or underscores, "
                 "starting and ending with no dot")
CODE_MAX = 64
PAGES = {"auth", "home", "history"}  # the frontend's own routes, never a meeting


def valid_username(username):
    return bool(USERNAME.fullmatch(username)) and ".." not in username


def account_email(username):
    """The email of the account of `username` (a Ridewire email as it is), or None
    when it can be neither."""
    if "@" in username:
        try:
            return emails.normalize(username)
        except emails.InvalidEmail:
            return None
    return f"{username.lower()}@{DOMAIN}" if valid_username(username) else None


def username_of(email):
    """The username that an account's email stands for."""
    local, _, domain = email.rpartition("@")
    return local if domain == DOMAIN else email


def code_problem(code):
    """Why `code` cannot be a meeting code, or None."""
    if not 1 <= len(code) <= CODE_MAX or not code.isprintable() or "/" in code:
        return f"A meeting code is 1-{CODE_MAX} printable characters without /"
    if code.lower() in PAGES:
        return f"/{code} is a page of the app, not a meeting: choose another code"
    return None


def sent_token(location):
    """The `token` of the query or of the JSON body, or ""."""
    source = request.args if location == "query" else request.get_json(silent=True)
    token = source.get("token") if isinstance(source, dict) else None
    return token.strip() if isinstance(token, str) else ""


def token_in(location):
    """Decorator (above `auth_required`): the frontend's `token` from the JSON body or
    the query (`location`), read as a Bearer header unless one was sent. Only on these
    routes; every check of the token stays the same."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            token = sent_token(location)
            if token and "HTTP_AUTHORIZATION" not in request.environ:
                request.environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
            return view(*args, **kwargs)

        return wrapper

    return decorator


def _invalid(error):
    message = error.errors[0]["msg"] if error.errors else http.HTTPStatus(400).phrase
    return jsonify(message=message), 400


def _message_errors_doc(operation, facts):
    """Document the 400 answers as `{message}` (the other errors are already)."""
    responses = operation.get("responses", {})
    for code in (400, "400"):
        if code in responses:
            responses[code] = {"description": ERROR_DESCRIPTIONS[400], "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


class MeetingsBlueprint(Blueprint):
    """A blueprint of the video-meeting routes: tagged `compat`, every error `{message}`."""

    DOC_HOOKS = (_message_errors_doc,)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.register_error_handler(Invalid, _invalid)

    def route(self, rule, *, parameters=None, tags=None, **options):
        return super().route(rule, parameters=parameters, tags=tags or ["compat"], **options)

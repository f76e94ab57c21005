"""The tutorial frontends' ways of sending a token, read as the core reads a token."""
from flask import request


def _placeholder_bearer(header):
    """Whether an Authorization header carries no token at all: empty, a bare `Bearer`,
    or `Bearer null` / `Bearer undefined` (a frontend that has no token stored)."""
    parts = header.split()
    return not parts or (parts[0] == "Bearer" and parts[1:] in ([], ["null"], ["undefined"]))


def compatible_credentials():
    """Before each request (registered by compat): the tutorial frontends' ways of sending the
    token, rewritten into the one header that `auth_required` reads, so that every check
    (signature, expiry, blacklist, account, role) stays the same.

    - A placeholder Authorization header (see `_placeholder_bearer`) is dropped, so the
      `token` cookie is used (the Uber clone's captain logout).
    - Without an Authorization header, QuickChat's `token: <jwt>` header becomes
      `Authorization: Bearer <jwt>`. An Authorization header always wins over it."""
    environ = request.environ
    header = environ.get("HTTP_AUTHORIZATION")
    if header is not None and _placeholder_bearer(header):
        del environ["HTTP_AUTHORIZATION"]
    token = environ.get("HTTP_TOKEN", "").strip()
    if "HTTP_AUTHORIZATION" not in environ and token not in ("", "null", "undefined"):
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"

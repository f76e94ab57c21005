"""`@idempotent`: a write route that takes an `Idempotency-Key` header, with the
semantics of the IETF httpapi draft as Stripe applies them.

- The key is the caller's: the same key from another account is another request.
- The first request with a key runs; its answer, when it is a success (2xx), is kept
  KEY_HOURS and every later request with that key gets it again (status and body,
  with `Idempotent-Replayed: true`) and runs nothing. An answer that is not a success
  changed nothing: the key is released and a retry runs again.
- The same key with another request (method, path, query or JSON body) is a 422.
- A request arriving while the first one with its key runs waits up to WAIT_SECONDS
  for its answer, then gets 409 with `Retry-After`.
- A request whose process died while it ran holds its key LEASE_SECONDS at most (in
  its own process, not at all; a graceful stop releases its keys, `release_held`): a
  retry then runs again, and the domain's own rules (a message stores its key, a
  rider has one open ride) keep that from duplicating.

Put it under `auth_required` and the rate limits, above `@blp.arguments`: a request
that fails validation is not stored.
"""
import functools
import hashlib
import json
import logging
import os
import re
import time
import uuid
from datetime import timedelta

from flask import Response, g, make_response, request
from pymongo.errors import PyMongoError

from shared.accounts.tokens import current_account
from shared.errors import ApiError, Conflict, Invalid
from shared.idempotency import idempotency_keys
from shared.serialize import now
from shared.web import add_facts, route_facts

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
KEY_MAX = 200
# Visible ASCII but the quote and the backslash (a structured-field string's content).
KEY_PATTERN = re.compile(rf"[\x21\x23-\x5b\x5d-\x7e]{{1,{KEY_MAX}}}")
KEY_RULE = f"{HEADER} must be 1-{KEY_MAX} visible ASCII characters (no quote or backslash)"
KEY_HOURS = 24
WAIT_SECONDS = 3.0
POLL_SECONDS = 0.05
LEASE_SECONDS = 60
IN_PROGRESS = "A request with this Idempotency-Key is still running; retry shortly"
MISMATCH = "This Idempotency-Key was used for another request"
REPLAYED = "Idempotent-Replayed"
_running = set()  # owners of the entries held by requests running in this process
_process = (None, None)


def idempotent(view):
    """Decorator: the route answers a retry with the same `Idempotency-Key` as it
    answered the first request, and runs once (see the module's rules)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        key = request_key()
        if key is None:
            return view(*args, **kwargs)
        account = current_account()["_id"]
        stored, owner = claim_or_wait(account, key, fingerprint())
        if stored is not None:
            return replay(stored)
        try:
            response = view(*args, **kwargs)
        except BaseException:
            release(account, key, owner)
            raise
        return finish(account, key, owner, make_response(response))

    hooks = [*route_facts(view).get("hooks", ()), document_key]
    return add_facts(wrapper, idempotent=True, hooks=hooks)


def request_key():
    """The request's `Idempotency-Key` (a structured-field string's quotes dropped), or
    None without one; 400 when it is unusable. Kept for `idempotency_key()`."""
    raw = request.headers.get(HEADER)
    if raw is None:
        g.idempotency_key = None
        return None
    key = raw.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not KEY_PATTERN.fullmatch(key):
        raise Invalid.field(HEADER, KEY_RULE, location="headers")
    g.idempotency_key = key
    return key


def idempotency_key():
    """The key of the running request (None without one), for a domain that stores it
    with what it creates."""
    return g.get("idempotency_key")


def fingerprint():
    """What makes two requests the same one: method, path, query and body (a JSON body
    by its content, whatever its spacing and key order)."""
    body = request.get_json(silent=True)
    content = (json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
               if body is not None else request.get_data())
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.path.encode(),
                 json.dumps(sorted(request.args.items(multi=True))).encode(), content):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def claim_or_wait(account, key, digest):
    """`(stored entry, None)` to replay, or `(None, owner)`: this request holds the key
    and runs. 422 for another request's key, 409 when the first one runs too long."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        outcome = try_claim(account, key, digest)
        if outcome is not None:
            return outcome
        if time.monotonic() >= deadline:
            raise Conflict(IN_PROGRESS, headers={"Retry-After": "1"})
        time.sleep(POLL_SECONDS)


def try_claim(account, key, digest):
    """One try of `claim_or_wait`; None while another request holds the key."""
    holder = new_holder()
    if hold(account, key, digest, holder):
        return None, holder["owner"]
    entry = idempotency_keys.find(account, key)
    if entry is None:  # released meanwhile
        return None
    if entry["fingerprint"] != digest:
        raise ApiError(422, MISMATCH)
    if entry["state"] == idempotency_keys.DONE:
        return entry, None
    if stale(entry) and hold(account, key, digest, holder, entry):
        return None, holder["owner"]
    return None


def hold(account, key, digest, holder, stale_entry=None):
    """Store a running entry for `holder`, or take `stale_entry` over; whether it did.
    Interrupted, it releases what it may have stored."""
    _running.add(holder["owner"])
    try:
        started = now()
        locked_until = started + timedelta(seconds=LEASE_SECONDS)
        if stale_entry is None:
            held = idempotency_keys.claim(account, key, digest, holder, started, locked_until,
                                          started + timedelta(hours=KEY_HOURS))
        else:
            held = idempotency_keys.take_over(stale_entry, holder, locked_until)
    except BaseException:
        release(account, key, holder["owner"])
        raise
    if not held:
        _running.discard(holder["owner"])
    return held


def new_holder():
    """A new owner id, and the id of this process (a fork gets a new one)."""
    global _process
    if _process[0] != os.getpid():
        _process = (os.getpid(), uuid.uuid4().hex)
    return {"owner": uuid.uuid4().hex, "process": _process[1]}


def stale(entry):
    """Whether the request holding a running entry is gone: its lease ran out, or it
    was of this process and no longer runs here."""
    if entry["lockedUntil"] <= now():
        return True
    return entry["process"] == _process[1] and entry["owner"] not in _running


def finish(account, key, owner, response):
    """Keep a success for the retries and answer it; release the key after any other
    answer. A success stays one when it cannot be kept (a retry then runs again)."""
    if not 200 <= response.status_code < 300:
        release(account, key, owner)
        return response
    try:
        idempotency_keys.complete(account, key, owner, response.status_code,
                                  response.get_data(as_text=True), response.content_type)
    except PyMongoError:
        log.warning("could not keep the answer of an idempotent request")
    finally:
        _running.discard(owner)
    return response


def release(account, key, owner):
    """Release the key (when the database cannot, its entry is stale from now on)."""
    _running.discard(owner)
    try:
        idempotency_keys.release(account, key, owner)
    except PyMongoError:
        log.warning("could not release an idempotency key")


def release_held(app):
    """At a graceful stop, once requests are over: release the keys this process still
    holds (a release the database refused, an interrupted request), so that a retry on
    another process runs at once instead of waiting for their lease."""
    if _process[1] is None or _process[0] != os.getpid():
        return
    with app.app_context():
        idempotency_keys.release_process(_process[1])


def replay(entry):
    """The stored answer, marked as a replay."""
    response = Response(entry["body"], status=entry["status"],
                        content_type=entry["contentType"])
    response.headers[REPLAYED] = "true"
    return response


def document_key(operation, facts):
    """The header and the answers it adds, in the route's OpenAPI operation."""
    operation.setdefault("parameters", []).append({
        "in": "header", "name": HEADER, "required": False,
        "schema": {"type": "string", "minLength": 1, "maxLength": KEY_MAX,
                   "pattern": f"^{KEY_PATTERN.pattern}$"},
        "description": (f"any unique string per request (e.g. a UUID): a retry with the "
                        f"same key within {KEY_HOURS} h answers the first success "
                        f"again and does nothing else")})
    responses = operation.setdefault("responses", {})
    for code, name in ((409, "CONFLICT"), (422, "UNPROCESSABLE_ENTITY")):
        responses.setdefault(code, name)

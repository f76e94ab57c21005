"""Refresh tokens: random strings handed to the client once, stored only as a SHA-256
hash (they carry 256 bits of entropy, so a fast hash is enough), 30 days, rotated on
every use.

Every token belongs to a `family` (one login). Using a token marks it spent and
issues its successor in the same family; presenting a spent token again means it
was stolen (or replayed), so the whole family is revoked, along with the access
tokens it issued. Each token keeps the `ver` (account tokenVersion) of its session, so
that "log out everywhere" refuses it whenever it was issued (see services/accounts.py).

A family revocation first writes a marker in `revoked_families`, then revokes what the
family holds; a refresh first stores its new token, then looks for the marker
(`family_revoked`). Whichever order the two interleave in, one of them sees the other:
no token issued during a revocation outlives it.
"""
import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from bson import ObjectId
from flask import current_app
from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from shared import storage
from shared.accounts import revocations
from shared.extensions import mongo
from shared.serialize import now
from shared.storage import find_one_and_update

COLLECTION = "refresh_tokens"
FAMILIES = "revoked_families"  # {_id: family, revokedAt, expiresAt}
INDEXES = {
    COLLECTION: [
        IndexModel([("hash", ASCENDING)], unique=True),
        IndexModel([("family", ASCENDING)]),
        IndexModel([("accessJti", ASCENDING)], sparse=True),
        IndexModel([("account", ASCENDING), ("role", ASCENDING)]),
        IndexModel([("expiresAt", ASCENDING)], expireAfterSeconds=0),
    ],
    FAMILIES: [IndexModel([("expiresAt", ASCENDING)], expireAfterSeconds=0)],
}


class RefreshError(Exception):
    """The refresh token cannot be used; `message` is safe to show."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


def _collection():
    return mongo.db[COLLECTION]


def _digest(raw):
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def issue(account_id, role, ttl_seconds, access_claims=None, family=None):
    """Store a new refresh token and return the raw value (shown to the client once).
    `access_claims` (jti, exp, ver) of the access token issued with it are kept so that
    a family revocation also blacklists them, and "log out everywhere" refuses it."""
    raw = secrets.token_urlsafe(32)
    timestamp = now()
    doc = {
        "hash": _digest(raw),
        "family": family or ObjectId(),
        "account": account_id,
        "role": role,
        "createdAt": timestamp,
        "expiresAt": timestamp + timedelta(seconds=ttl_seconds),
        "usedAt": None,
        "revokedAt": None,
    }
    if access_claims:
        doc["accessJti"] = access_claims["jti"]
        doc["accessExp"] = access_claims["exp"]
        doc["ver"] = access_claims["ver"]
    _collection().insert_one(doc)
    return raw


def spend(raw):
    """Mark `raw` used and return its document; raise RefreshError when it is unknown,
    expired, revoked, or already spent (then its whole family is revoked)."""
    if not isinstance(raw, str) or not raw:
        raise RefreshError("Invalid refresh token")
    digest = _digest(raw)
    timestamp = now()
    doc = find_one_and_update(
        _collection(),
        {"hash": digest, "usedAt": None, "revokedAt": None, "expiresAt": {"$gt": timestamp}},
        {"$set": {"usedAt": timestamp}})
    if doc is not None:
        return doc
    stale = _collection().find_one({"hash": digest})
    if stale is not None and stale["usedAt"] is not None:
        revoke_family(stale["family"])
        raise RefreshError("Refresh token reuse detected; please log in again")
    raise RefreshError("Invalid refresh token")


def revoke_family(family):
    """Mark the family revoked, then revoke every token of it and blacklist the access
    tokens it issued (in this order: see the module docstring)."""
    timestamp = now()
    kept = timedelta(seconds=current_app.config["REFRESH_TOKEN_TTL"])
    try:
        mongo.db[FAMILIES].insert_one(
            {"_id": family, "revokedAt": timestamp, "expiresAt": timestamp + kept})
    except DuplicateKeyError:
        pass
    storage.update_many(_collection(), {"family": family, "revokedAt": None},
                        {"$set": {"revokedAt": timestamp}})
    for doc in _collection().find({"family": family, "accessJti": {"$exists": True},
                                   "accessExp": {"$gt": timestamp.timestamp()}}):
        revocations.revoke(doc["accessJti"], doc["account"], doc["role"],
                         datetime.fromtimestamp(doc["accessExp"], UTC))


def family_revoked(family):
    """Whether the family was revoked (checked by a refresh after it issued)."""
    return mongo.db[FAMILIES].find_one({"_id": family}, {"_id": 1}) is not None


def revoke(raw, account_id, role):
    """Revoke the family of one token, only if it belongs to this account (logout)."""
    if not isinstance(raw, str) or not raw:
        return
    doc = _collection().find_one({"hash": _digest(raw), "account": account_id, "role": role},
                                 {"family": 1})
    if doc is not None:
        revoke_family(doc["family"])


def revoke_all(account_id, role):
    """Revoke every refresh token of the account (logout-all, password change)."""
    storage.update_many(_collection(),
                        {"account": account_id, "role": role, "revokedAt": None},
                        {"$set": {"revokedAt": now()}})


def revoke_session(access_jti):
    """Revoke the family that issued this access token (logout): its refresh tokens and
    every access token issued in it."""
    doc = _collection().find_one({"accessJti": access_jti}, {"family": 1})
    if doc is not None:
        revoke_family(doc["family"])

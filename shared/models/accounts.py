"""Accounts: users (riders) in `users`, captains (drivers) in `captains`.

Stored fields beyond the public ones of API.md: `password` (bcrypt hash),
`tokenVersion` (int; bumping it revokes every earlier access token),
`tokensRevokedAt` (when it was last bumped). `public()` is the only way an
account leaves the service.
"""
from bson import ObjectId
from bson.errors import InvalidId

from shared.db import mongo
from shared.serialize import to_json

COLLECTIONS = {"user": "users", "captain": "captains"}
PRIVATE_FIELDS = frozenset({"password", "tokenVersion", "tokensRevokedAt"})


def collection(role):
    return mongo.db[COLLECTIONS[role]]


def find_by_id(role, account_id):
    try:
        oid = ObjectId(account_id)
    except (InvalidId, TypeError):
        return None
    return collection(role).find_one({"_id": oid})


def public(account):
    """The account as the API shows it: no password hash, no token bookkeeping."""
    return to_json(account, hidden=PRIVATE_FIELDS)

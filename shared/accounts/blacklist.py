"""Revoked access tokens: one document per revoked `jti`, removed by a TTL index
once the token would have expired anyway. Every entry is refused by the token check;
`reason` tells a token `revoked` (logout: its sockets end too) from one `retired` (a
refresh replaced it: refused over HTTP, while a socket it opened lives on with its
session family). The token check asks `is_blacklisted`, answered from this process's
copy (shared.accounts.revoked_jtis), which every write here updates at once."""
from datetime import UTC, datetime

from flask import current_app
from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from shared import storage
from shared.accounts.revoked_jtis import RevokedJtis
from shared.extensions import mongo

COLLECTION = "blacklisted_tokens"
INDEXES = [
    IndexModel([("jti", ASCENDING)], unique=True),
    IndexModel([("expiresAt", ASCENDING)], expireAfterSeconds=0),
    IndexModel([("createdAt", ASCENDING)]),
]
REVOKED, RETIRED = "revoked", "retired"


def init_app(app):
    app.extensions["revoked_jtis"] = RevokedJtis(app.config["REVOCATION_POLL_SECONDS"])


def _known():
    return current_app.extensions["revoked_jtis"]


def is_blacklisted(jti):
    """Whether the token `jti` is blacklisted, from this process's copy, read again
    first when it is older than REVOCATION_POLL_SECONDS."""
    known = _known()
    if known.stale():
        cutoff, started = known.cutoff(), datetime.now(UTC)
        query = ({"expiresAt": {"$gt": started}} if cutoff is None
                 else {"createdAt": {"$gt": cutoff}})
        found = mongo.db[COLLECTION].find(query, {"_id": 0, "jti": 1, "expiresAt": 1})
        known.read([(doc["jti"], doc["expiresAt"]) for doc in found], started)
    return jti in known


def _insert(jti, account_id, role, expires_at, reason):
    """Whether a new entry was stored (False: the jti was there already)."""
    _known().add(jti, expires_at)
    try:
        mongo.db[COLLECTION].insert_one(
            {
                "jti": jti,
                "sub": str(account_id),
                "role": role,
                "reason": reason,
                "expiresAt": expires_at,
                "createdAt": datetime.now(UTC),
            }
        )
    except DuplicateKeyError:
        return False
    return True


def revoke(jti, account_id, role, expires_at):
    """Blacklist one token (idempotent); a retired one becomes revoked, stamped anew so
    that the realtime service ends its sockets."""
    if not _insert(jti, account_id, role, expires_at, REVOKED):
        storage.update_one(mongo.db[COLLECTION], {"jti": jti, "reason": RETIRED},
                           {"$set": {"reason": REVOKED, "createdAt": datetime.now(UTC)}})


def retire(jti, account_id, role, expires_at):
    """Blacklist a token that a refresh replaced (idempotent)."""
    _insert(jti, account_id, role, expires_at, RETIRED)


def revoked_since(since):
    """Tokens revoked after `since` (for pushing `session-revoked`); not the retired."""
    query = {"createdAt": {"$gt": since}, "reason": {"$ne": RETIRED}}
    return list(mongo.db[COLLECTION].find(query, {"jti": 1, "sub": 1, "createdAt": 1}))

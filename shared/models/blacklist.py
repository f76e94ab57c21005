"""Revoked access tokens: one document per revoked `jti`, removed by a TTL index
once the token would have expired anyway. Every entry is refused by the token check;
`reason` tells a token `revoked` (logout: its sockets end too) from one `retired` (a
refresh replaced it: refused over HTTP, while a socket it opened lives on with its
session family)."""
from datetime import UTC, datetime

from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from shared import storage
from shared.extensions import mongo

COLLECTION = "blacklisted_tokens"
INDEXES = [
    IndexModel([("jti", ASCENDING)], unique=True),
    IndexModel([("expiresAt", ASCENDING)], expireAfterSeconds=0),
    IndexModel([("createdAt", ASCENDING)]),
]
REVOKED, RETIRED = "revoked", "retired"


def _insert(jti, account_id, role, expires_at, reason):
    """Whether a new entry was stored (False: the jti was there already)."""
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

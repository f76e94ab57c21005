"""Revoked access tokens: one document per revoked `jti`, removed by a TTL index
once the token would have expired anyway. Every entry is refused by the token check;
`reason` tells a token `revoked` (logout: its sockets end too) from one `retired` (a
refresh replaced it: refused over HTTP, while a socket it opened lives on with its
session family). The token check reads it through this process's copy
(shared.accounts.revocations)."""
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


def entries_since(cutoff, now):
    """`(jti, expiresAt, reason)` of the entries stamped after `cutoff` (None: every
    entry still live at `now`)."""
    query = {"expiresAt": {"$gt": now}} if cutoff is None else {"createdAt": {"$gt": cutoff}}
    found = mongo.db[COLLECTION].find(query, {"_id": 0, "jti": 1, "expiresAt": 1, "reason": 1})
    return [(doc["jti"], doc["expiresAt"], doc.get("reason", REVOKED)) for doc in found]


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

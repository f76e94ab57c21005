"""Revoked access tokens: one document per revoked `jti`, removed by a TTL index
once the token would have expired anyway."""
from datetime import UTC, datetime

from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from shared.extensions import mongo

COLLECTION = "blacklisted_tokens"
INDEXES = [
    IndexModel([("jti", ASCENDING)], unique=True),
    IndexModel([("expiresAt", ASCENDING)], expireAfterSeconds=0),
    IndexModel([("createdAt", ASCENDING)]),
]


def revoke(jti, account_id, role, expires_at):
    """Blacklist one token (idempotent)."""
    try:
        mongo.db[COLLECTION].insert_one(
            {
                "jti": jti,
                "sub": str(account_id),
                "role": role,
                "expiresAt": expires_at,
                "createdAt": datetime.now(UTC),
            }
        )
    except DuplicateKeyError:
        pass


def revoked_since(since):
    """Tokens blacklisted after `since` (for pushing `session-revoked`)."""
    return list(mongo.db[COLLECTION].find({"createdAt": {"$gt": since}}, {"jti": 1, "sub": 1,
                                                                        "createdAt": 1}))

"""Queries for watching revocations (the realtime service disconnects revoked sockets).

A token is revoked by its `jti` in `blacklisted_tokens` (see blacklist.py; a token
only retired by a refresh does not end its sockets) or by the
account's `tokenVersion` bump, stamped with `tokensRevokedAt` (see accounts.py). The
index below keeps the "revoked since" poll cheap whatever the number of accounts.
"""
from pymongo import ASCENDING, IndexModel

from shared.accounts import accounts, blacklist
from shared.extensions import mongo

INDEXES = {
    name: [IndexModel([("tokensRevokedAt", ASCENDING)], name="tokensRevokedAt_1")]
    for name in accounts.COLLECTIONS.values()
}


def revoked_jtis_since(since):
    """The jtis revoked after `since` (a family's revocation revokes all of its own)."""
    return {doc["jti"] for doc in blacklist.revoked_since(since)}


def token_versions_since(since):
    """{account id (str): tokenVersion} of the accounts (either role) that revoked
    their tokens after `since`."""
    versions = {}
    for collection in accounts.COLLECTIONS.values():
        for doc in mongo.db[collection].find({"tokensRevokedAt": {"$gt": since}},
                                             {"tokenVersion": 1}):
            versions[str(doc["_id"])] = doc.get("tokenVersion", 0)
    return versions

"""Answers of the maps providers (geocoder, router), kept for MAPS_CACHE_TTL seconds.

`_id` is a digest of what was asked of which provider, `value` the answer (JSON-ready),
`expiresAt` when it goes. A TTL index removes expired entries; a read also ignores
them, since the TTL monitor only runs about once a minute.
"""
import hashlib
import json
from datetime import timedelta

from pymongo import ASCENDING, IndexModel

from shared.extensions import mongo
from shared.serialize import now

COLLECTION = "map_cache"
INDEXES = [IndexModel([("expiresAt", ASCENDING)], name="expires_ttl", expireAfterSeconds=0)]


def collection():
    return mongo.db[COLLECTION]


def cache_key(*parts):
    """A digest of `parts` (JSON-serializable), so that any query text fits an `_id`."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def get(key):
    """`(True, value)` for an entry that has not expired, else `(False, None)`."""
    doc = collection().find_one({"_id": key, "expiresAt": {"$gt": now()}}, {"value": 1})
    return (True, doc["value"]) if doc else (False, None)


def put(key, value, ttl_seconds):
    collection().replace_one(
        {"_id": key},
        {"value": value, "expiresAt": now() + timedelta(seconds=ttl_seconds)},
        upsert=True)

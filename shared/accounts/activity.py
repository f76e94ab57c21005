"""Activity history: what happened to an account, visible only to that account.

`source` is `server` (written by the services) or `client` (posted by the account);
read newest first by `_id`. Every entry expires after ACTIVITY_RETENTION_DAYS (an
`expiresAt` that a TTL index removes; 0: kept for ever), and an account keeps at most
ACTIVITY_CLIENT_MAX entries of its own (the oldest go first)."""
from datetime import timedelta

from bson import ObjectId
from flask import current_app
from pymongo import ASCENDING, DESCENDING, IndexModel

from shared.extensions import mongo
from shared.serialize import now
from shared.storage import cursor_page

COLLECTION = "activities"
INDEXES = [IndexModel([("account", 1), ("role", 1), ("_id", DESCENDING)]),
           IndexModel([("expiresAt", ASCENDING)], name="expires_ttl", expireAfterSeconds=0)]
DAY_SECONDS = 24 * 3600


def collection():
    return mongo.db[COLLECTION]


def owned_by(account_id, role):
    return {"account": ObjectId(account_id), "role": str(role)}


def record(account_id, role, action, meta=None, source="server"):
    """Append one entry to the account's history and return it."""
    created = now()
    entry = {**owned_by(account_id, role), "action": action, "meta": meta or {},
             "source": source, "createdAt": created}
    keep_days = current_app.config["ACTIVITY_RETENTION_DAYS"]
    if keep_days:
        entry["expiresAt"] = created + timedelta(seconds=keep_days * DAY_SECONDS)
    collection().insert_one(entry)
    return entry


def add_from_client(account_id, role, action, meta):
    """An entry posted by the account itself (e.g. a visited place), its oldest own
    entries beyond ACTIVITY_CLIENT_MAX dropped."""
    entry = record(account_id, role, action, meta, source="client")
    trim_client_entries(account_id, role, current_app.config["ACTIVITY_CLIENT_MAX"])
    return entry


def trim_client_entries(account_id, role, keep):
    """Delete the account's client-written entries but its newest `keep`."""
    query = {**owned_by(account_id, role), "source": "client"}
    for oldest_kept in collection().find(query, {"_id": 1}).sort("_id", DESCENDING) \
            .skip(max(keep, 1) - 1).limit(1):
        collection().delete_many({**query, "_id": {"$lt": oldest_kept["_id"]}})


def page(account_id, role, limit, before=None):
    """`(entries, next)`: the account's history, newest first."""
    return cursor_page(collection(), owned_by(account_id, role), limit, before)

"""Activity history: what happened to an account, visible only to that account.

Entries are written by the services (`source: "server"`: register, login, ride
accepted, ...) or posted by the client (`source: "client"`: e.g. a visited place).
Listing is newest first with an `_id` cursor: `next` is the `before` of the next page.
"""
from bson import ObjectId
from pymongo import DESCENDING, IndexModel

from shared.db import mongo
from shared.serialize import now, to_json

COLLECTION = "activities"
INDEXES = [IndexModel([("account", 1), ("role", 1), ("_id", DESCENDING)])]


def record(account_id, role, action, meta=None, source="server"):
    """Append one entry to the account's history and return it."""
    entry = {"account": ObjectId(account_id), "role": role, "action": action,
             "meta": meta or {}, "source": source, "createdAt": now()}
    mongo.db[COLLECTION].insert_one(entry)
    return entry


def page(account_id, role, limit=20, before=None):
    """`(entries, next_cursor)`: up to `limit` entries older than the `before` id."""
    query = {"account": ObjectId(account_id), "role": role}
    if before is not None:
        query["_id"] = {"$lt": before}
    entries = list(mongo.db[COLLECTION].find(query).sort("_id", DESCENDING).limit(limit + 1))
    more = len(entries) > limit
    entries = entries[:limit]
    return entries, (str(entries[-1]["_id"]) if more else None)


def public(entry):
    return to_json(entry, hidden=frozenset({"account", "role"}))

"""Activity history: what happened to an account, visible only to that account."""
from pymongo import DESCENDING, IndexModel

from shared.db import mongo
from shared.serialize import now

COLLECTION = "activities"
INDEXES = [IndexModel([("account", 1), ("role", 1), ("_id", DESCENDING)])]


def record(account_id, role, action, meta=None):
    """Append one entry to the account's history and return it."""
    entry = {"account": account_id, "role": role, "action": action, "meta": meta or {},
             "createdAt": now()}
    mongo.db[COLLECTION].insert_one(entry)
    return entry

"""Activity entries: `source` is `server` (written by the services) or `client`
(posted by the account). Read newest first by `_id`."""
from bson import ObjectId
from pymongo import DESCENDING, IndexModel

from shared.extensions import mongo
from shared.serialize import now
from shared.storage import cursor_page

COLLECTION = "activities"
INDEXES = [IndexModel([("account", 1), ("role", 1), ("_id", DESCENDING)])]


def collection():
    return mongo.db[COLLECTION]


def owned_by(account_id, role):
    return {"account": ObjectId(account_id), "role": str(role)}


def record(account_id, role, action, meta=None, source="server"):
    """Append one entry to the account's history and return it."""
    entry = {**owned_by(account_id, role), "action": action, "meta": meta or {},
             "source": source, "createdAt": now()}
    collection().insert_one(entry)
    return entry


def add_from_client(account_id, role, action, meta):
    """An entry posted by the account itself (e.g. a visited place)."""
    return record(account_id, role, action, meta, source="client")


def page(account_id, role, limit, before=None):
    """`(entries, next)`: the account's history, newest first."""
    return cursor_page(collection(), owned_by(account_id, role), limit, before)

"""Seen marks: one per reader and sender, "the reader has seen every message of the
sender up to the message `upTo`" (a read receipt of one conversation, not one per
message). A mark only moves forward; `changeId` is stamped anew by every move, for
the sync."""
from bson import ObjectId
from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from shared.extensions import mongo
from shared.serialize import now

COLLECTION = "read_marks"
INDEXES = [
    IndexModel([("readerId", ASCENDING), ("senderId", ASCENDING)], unique=True,
               name="reader_sender"),
    # What changed for an account since a sync cursor, as reader and as sender.
    IndexModel([("readerId", ASCENDING), ("changeId", ASCENDING)]),
    IndexModel([("senderId", ASCENDING), ("changeId", ASCENDING)]),
]


def collection():
    return mongo.db[COLLECTION]


def advance(reader_id, sender_id, up_to):
    """Move the mark of `reader_id` on `sender_id`'s messages to `up_to` and return
    it; None when it already was there or further."""
    mark = {"upTo": up_to, "seenAt": now(), "changeId": ObjectId()}
    try:
        result = collection().update_one(
            {"readerId": reader_id, "senderId": sender_id, "upTo": {"$lt": up_to}},
            {"$set": mark}, upsert=True)
    except DuplicateKeyError:  # there is a mark, at `up_to` or further
        return None
    if not (result.modified_count or result.upserted_id):
        return None
    return {"readerId": reader_id, "senderId": sender_id, **mark}


def find(reader_id, sender_id):
    return collection().find_one({"readerId": reader_id, "senderId": sender_id})


def changed_since(account_id, since, limit):
    """Up to `limit` marks of or on `account_id` whose `changeId` is after `since`, in
    change order."""
    found = []
    for party in ("readerId", "senderId"):
        query = {party: account_id, "changeId": {"$gt": since}}
        found += collection().find(query).sort("changeId", ASCENDING).limit(limit)
    return sorted(found, key=lambda mark: mark["changeId"])[:limit]

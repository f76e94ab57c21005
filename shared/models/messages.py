"""Chat messages between two accounts: users among users, or a rider and the captain
of their ride. Sender and receiver ids are stored as ObjectIds."""
from pymongo import ASCENDING, DESCENDING, IndexModel

from shared.db import REVISION, find_one_and_update, mongo
from shared.serialize import now, to_json

COLLECTION = "messages"
INDEXES = [
    # A conversation, newest first (queried in both directions).
    IndexModel([("senderId", ASCENDING), ("receiverId", ASCENDING), ("_id", DESCENDING)]),
    # Unseen counts of one receiver.
    IndexModel([("receiverId", ASCENDING), ("seen", ASCENDING), ("senderId", ASCENDING)]),
]


HIDDEN = frozenset({"seenAt", REVISION})


def _collection():
    return mongo.db[COLLECTION]


def public(message):
    """The message as the API shows it (the compatible QuickChat shape)."""
    return to_json(message, hidden=HIDDEN)


def create(sender_id, receiver_id, text=None, image=None):
    """Store a new, unseen message and return it."""
    message = {"senderId": sender_id, "receiverId": receiver_id, "text": text,
               "image": image, "seen": False, "createdAt": now()}
    message["_id"] = _collection().insert_one(message).inserted_id
    return message


def find(message_id):
    return _collection().find_one({"_id": message_id})


def _between(a, b):
    return {"$or": [{"senderId": a, "receiverId": b}, {"senderId": b, "receiverId": a}]}


def conversation(a, b, limit, before=None):
    """Up to `limit` messages between `a` and `b` sent before the message id `before`
    (the latest ones when None), oldest first, and whether older ones exist."""
    query = _between(a, b)
    if before is not None:
        query = {"$and": [query, {"_id": {"$lt": before}}]}
    newest_first = list(_collection().find(query).sort("_id", DESCENDING).limit(limit + 1))
    return newest_first[:limit][::-1], len(newest_first) > limit


def mark_seen_from(sender_id, receiver_id):
    """Mark every unseen message of `sender_id` to `receiver_id` seen; return their ids."""
    query = {"senderId": sender_id, "receiverId": receiver_id, "seen": False}
    ids = [doc["_id"] for doc in _collection().find(query, {"_id": 1}).sort("_id", 1)]
    if ids:
        _collection().update_many({"_id": {"$in": ids}, "seen": False},
                                  {"$set": {"seen": True, "seenAt": now()},
                                   "$inc": {REVISION: 1}})
    return ids


def mark_one_seen(message_id, receiver_id):
    """Mark one message seen if `receiver_id` received it and had not seen it yet;
    return the message, or None when nothing changed."""
    return find_one_and_update(
        _collection(), {"_id": message_id, "receiverId": receiver_id, "seen": False},
        {"$set": {"seen": True, "seenAt": now()}})


def unseen_counts(receiver_id):
    """{sender id (str): number of messages to `receiver_id` not seen yet}, in one
    aggregation."""
    pipeline = [
        {"$match": {"receiverId": receiver_id, "seen": False}},
        {"$group": {"_id": "$senderId", "count": {"$sum": 1}}},
    ]
    return {str(row["_id"]): row["count"] for row in _collection().aggregate(pipeline)}

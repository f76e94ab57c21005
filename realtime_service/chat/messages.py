"""Chat messages between two accounts: users among users, or a rider and the captain
of their ride. Sender and receiver ids are stored as ObjectIds; `seenAt` stamps when
the receiver read a message. Read newest first by `_id`. A message sent with an
`Idempotency-Key` stores it as `idempotencyKey`, unique per sender."""
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from shared import storage
from shared.extensions import mongo
from shared.serialize import now
from shared.storage import cursor_page, find_one_and_update

COLLECTION = "messages"
INDEXES = [
    # A conversation, newest first (queried in both directions).
    IndexModel([("senderId", ASCENDING), ("receiverId", ASCENDING), ("_id", DESCENDING)]),
    # Unseen counts of one receiver.
    IndexModel([("receiverId", ASCENDING), ("seen", ASCENDING), ("senderId", ASCENDING)]),
    # One message per sender and idempotency key: a retried send stores nothing twice.
    IndexModel([("senderId", ASCENDING), ("idempotencyKey", ASCENDING)], unique=True,
               name="sender_idempotency_key",
               partialFilterExpression={"idempotencyKey": {"$type": "string"}}),
]


def collection():
    return mongo.db[COLLECTION]


def create(sender_id, receiver_id, text=None, image=None, key=None):
    """Store a new, unseen message and return it; None when the sender already stored
    one with this idempotency `key` (the unique index decides, under races too)."""
    message = {"senderId": sender_id, "receiverId": receiver_id, "text": text,
               "image": image, "seen": False, "createdAt": now()}
    if key is not None:
        message["idempotencyKey"] = key
    try:
        message["_id"] = collection().insert_one(message).inserted_id
    except DuplicateKeyError:
        if key is None:
            raise
        return None
    return message


def find(message_id):
    return collection().find_one({"_id": message_id})


def find_by_key(sender_id, key):
    """The message `sender_id` sent with this idempotency key, or None."""
    return collection().find_one({"senderId": sender_id, "idempotencyKey": key})


def page_between(a, b, limit, before=None):
    """`(messages newest first, next)`: a page of the conversation of `a` and `b`."""
    return cursor_page(collection(), between(a, b), limit, before)


def between(a, b):
    """The query of the conversation of `a` and `b`, in both directions."""
    return {"$or": [{"senderId": a, "receiverId": b}, {"senderId": b, "receiverId": a}]}


def mark_seen_from(sender_id, receiver_id):
    """Mark every unseen message of `sender_id` to `receiver_id` seen; return their ids."""
    query = {"senderId": sender_id, "receiverId": receiver_id, "seen": False}
    ids = [doc["_id"] for doc in collection().find(query, {"_id": 1}).sort("_id", 1)]
    if ids:
        storage.update_many(collection(), {"_id": {"$in": ids}, "seen": False},
                            {"$set": {"seen": True, "seenAt": now()}})
    return ids


def mark_one_seen(message_id, receiver_id):
    """Mark one message seen if `receiver_id` received it and had not seen it yet;
    return the message, or None when nothing changed."""
    return find_one_and_update(
        collection(), {"_id": message_id, "receiverId": receiver_id, "seen": False},
        {"$set": {"seen": True, "seenAt": now()}})


def unseen_counts(receiver_id):
    """{sender id: number of messages to `receiver_id` not seen yet}, in one aggregation."""
    pipeline = [
        {"$match": {"receiverId": receiver_id, "seen": False}},
        {"$group": {"_id": "$senderId", "count": {"$sum": 1}}},
    ]
    return {row["_id"]: row["count"] for row in collection().aggregate(pipeline)}

"""Chat messages between two accounts: users among users, or a rider and the captain
of their ride. Sender and receiver ids are stored as ObjectIds. `deliveredAt` stamps
when the receiver's client acknowledged a message; `seen` (and `seenAt`) follow the
receiver's seen mark (read_marks). `changeId` is an ObjectId stamped anew by every
change that the sync reports (the `_id` at creation, a new one when delivered).
A message sent with an idempotency key (an `Idempotency-Key`, a socket send's
`clientMessageId`) stores it as `idempotencyKey`, unique per sender. Read newest first by `_id`."""
from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, IndexModel, UpdateOne
from pymongo.errors import BulkWriteError

from shared.extensions import mongo
from shared.serialize import now
from shared.storage import cursor_page

COLLECTION = "messages"
DUPLICATE_KEY = 11000
INDEXES = [
    # A conversation, newest first (queried in both directions).
    IndexModel([("senderId", ASCENDING), ("receiverId", ASCENDING), ("_id", DESCENDING)]),
    # Unseen counts of one receiver.
    IndexModel([("receiverId", ASCENDING), ("seen", ASCENDING), ("senderId", ASCENDING)]),
    # One message per sender and idempotency key: a retried send stores nothing twice.
    IndexModel([("senderId", ASCENDING), ("idempotencyKey", ASCENDING)], unique=True,
               name="sender_idempotency_key",
               partialFilterExpression={"idempotencyKey": {"$type": "string"}}),
    # What changed for an account since a sync cursor, as sender and as receiver.
    IndexModel([("senderId", ASCENDING), ("changeId", ASCENDING)]),
    IndexModel([("receiverId", ASCENDING), ("changeId", ASCENDING)]),
]


def collection():
    return mongo.db[COLLECTION]


def new(sender_id, receiver_id, text=None, image=None, key=None):
    """A new, undelivered, unseen message, not stored yet (`insert_batch` stores it)."""
    message_id = ObjectId()
    message = {"_id": message_id, "senderId": sender_id, "receiverId": receiver_id,
               "text": text, "image": image, "deliveredAt": None, "seen": False,
               "createdAt": now(), "changeId": message_id}
    if key is not None:
        message["idempotencyKey"] = key
    return message


def insert_batch(found):
    """Store these new messages with one ordered write (more only after a duplicate
    key): per message True (stored), False (its sender already stored one with its
    idempotency key: the unique index decides, under races too), or the error that
    stopped it, which then stops every later one of the batch too (none stored)."""
    outcomes = []
    while len(outcomes) < len(found):
        start = len(outcomes)
        try:
            collection().insert_many(found[start:], ordered=True)
        except BulkWriteError as error:
            failed = error.details["writeErrors"][0]
            index = start + failed["index"]
            outcomes += [True] * (index - start)
            if failed["code"] != DUPLICATE_KEY or "idempotencyKey" not in found[index]:
                return outcomes + [error] * (len(found) - index)
            outcomes.append(False)
        else:
            outcomes += [True] * (len(found) - start)
    return outcomes


def find(message_id):
    return collection().find_one({"_id": message_id})


def find_many(message_ids):
    return list(collection().find({"_id": {"$in": list(message_ids)}}))


def find_by_key(sender_id, key):
    """The message `sender_id` sent with this idempotency key, or None."""
    return collection().find_one({"senderId": sender_id, "idempotencyKey": key})


def page_between(a, b, limit, before=None):
    """`(messages newest first, next)`: a page of the conversation of `a` and `b`."""
    return cursor_page(collection(), between(a, b), limit, before)


def between(a, b):
    """The query of the conversation of `a` and `b`, in both directions."""
    return {"$or": [{"senderId": a, "receiverId": b}, {"senderId": b, "receiverId": a}]}


def latest_from(sender_id, receiver_id):
    """The newest message of `sender_id` to `receiver_id`, or None."""
    return collection().find_one({"senderId": sender_id, "receiverId": receiver_id},
                                 sort=[("_id", DESCENDING)])


def mark_delivered(messages, at):
    """Stamp these messages delivered at `at`, each with a change id of its own (one
    round trip); a message delivered meanwhile keeps its first stamp."""
    if messages:
        collection().bulk_write([
            UpdateOne({"_id": message["_id"], "deliveredAt": None},
                      {"$set": {"deliveredAt": at, "changeId": ObjectId()}})
            for message in messages], ordered=False)


def mark_seen_up_to(sender_id, receiver_id, up_to):
    """Flag seen the messages of `sender_id` to `receiver_id` up to the id `up_to`."""
    collection().update_many(
        {"receiverId": receiver_id, "seen": False, "senderId": sender_id,
         "_id": {"$lte": up_to}},
        {"$set": {"seen": True, "seenAt": now()}})


def unseen_counts(receiver_id):
    """{sender id: number of messages to `receiver_id` not seen yet}, in one aggregation."""
    pipeline = [
        {"$match": {"receiverId": receiver_id, "seen": False}},
        {"$group": {"_id": "$senderId", "count": {"$sum": 1}}},
    ]
    return {row["_id"]: row["count"] for row in collection().aggregate(pipeline)}


def unseen_from(sender_id, receiver_id):
    """How many messages of `sender_id` to `receiver_id` are not seen yet."""
    return collection().count_documents(
        {"receiverId": receiver_id, "seen": False, "senderId": sender_id})


def changed_since(account_id, since, limit):
    """Up to `limit` messages sent or received by `account_id` whose `changeId` is
    after `since`, in change order."""
    found = []
    for party in ("senderId", "receiverId"):
        query = {party: account_id, "changeId": {"$gt": since}}
        found += collection().find(query).sort("changeId", ASCENDING).limit(limit)
    return sorted(found, key=lambda message: message["changeId"])[:limit]

"""Call rooms: one document per call, shared by every realtime process.

A call has a `key` (the room name clients use: `meeting:<code>`, `ride:<ride id>`,
`direct:<code>`), a `kind`, a `status` (`open`, then `ended` with `endedAt` and
`endReason`), who may join (`parties` for ride and direct calls, `createdBy`, the
ride's `rideId`), its `members` (`{sid, accountId, role, name, joinedAt}`, one per
account, or per socket in a room whose `protocol` names members by socket; a guest's
`accountId` is null) and its latest chat `messages` (`{senderId, senderName, sid,
text, createdAt}`).

At most one open call per key (a partial unique index). A member joins by one
conditional push that also checks the participant limit, so concurrent joins cannot
overfill a room. Every write goes through shared.storage, so that the guarded update
that ends a call sees every member that joined before it.
"""
from pymongo import IndexModel

from shared import storage
from shared.extensions import mongo
from shared.serialize import now

COLLECTION = "calls"
OPEN_KEY = "one_open_call_per_key"
INDEXES = [
    IndexModel([("key", 1)], name=OPEN_KEY, unique=True,
               partialFilterExpression={"status": "open"}),
    IndexModel([("members.sid", 1)], name="member_sockets"),
]


def collection():
    return mongo.db[COLLECTION]


def create(key, kind, created_by, parties=(), ride_id=None, protocol=None):
    """Insert an open call; DuplicateKeyError when the key has one already."""
    call = {"key": key, "kind": kind, "status": "open", "createdBy": created_by,
            "parties": list(parties), "members": [], "messages": [],
            "createdAt": now()}
    if ride_id is not None:
        call["rideId"] = ride_id
    if protocol is not None:
        call["protocol"] = protocol
    call["_id"] = collection().insert_one(call).inserted_id
    return call


def find_open(key, with_messages=True):
    """The open call of `key`, or None; without its messages unless asked."""
    projection = None if with_messages else {"messages": 0}
    return collection().find_one({"key": key, "status": "open"}, projection)


def find(call_id):
    return collection().find_one({"_id": call_id})


def open_calls_of_socket(sid):
    """The open calls of which the socket `sid` is a member."""
    return list(collection().find({"members.sid": sid, "status": "open"},
                                  {"messages": 0}))


def add_member(call_id, member, limit):
    """Add `member` to the open call if it has fewer than `limit` members; whether it
    was added."""
    query = {"_id": call_id, "status": "open", f"members.{limit - 1}": {"$exists": False}}
    result = storage.update_one(collection(), query, {"$push": {"members": member}})
    return result.modified_count == 1


def remove_member(call_id, sid):
    """Remove the member of socket `sid`; whether it was there."""
    result = storage.update_one(collection(), {"_id": call_id, "members.sid": sid},
                                {"$pull": {"members": {"sid": sid}}})
    return result.modified_count == 1


def add_message(call_id, message, keep):
    """Append a chat message to the open call, keeping the latest `keep`; whether the
    call was open."""
    update = {"$push": {"messages": {"$each": [message], "$slice": -keep}}}
    result = storage.update_one(collection(), {"_id": call_id, "status": "open"}, update)
    return result.modified_count == 1


def end(call_id, reason, only_if_empty=False):
    """End the open call (with nobody in it, if `only_if_empty`) and return it as it
    was ended, with the members it had; None when it was not open (or not empty)."""
    query = {"_id": call_id, "status": "open"}
    if only_if_empty:
        query["members.0"] = {"$exists": False}
    update = {"$set": {"status": "ended", "endedAt": now(), "endReason": reason}}
    return storage.find_one_and_update(collection(), query, update)

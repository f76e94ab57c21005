"""Call history: one entry per join of a call by an account (`accountId`, `callId`,
`room`, `kind`, `rideId`, the socket `sid`, `joinedAt`, and `leftAt` once that socket
left), newest first per account."""
from pymongo import DESCENDING, IndexModel

from shared.extensions import mongo
from shared.serialize import now
from shared.storage import cursor_page

COLLECTION = "call_history"
INDEXES = [
    IndexModel([("accountId", 1), ("_id", DESCENDING)], name="history_of_account"),
    IndexModel([("callId", 1), ("sid", 1)], name="joins_of_call"),
]


def collection():
    return mongo.db[COLLECTION]


def record_join(account_id, call, sid, joined_at):
    entry = {"accountId": account_id, "callId": call["_id"], "room": call["key"],
             "kind": call["kind"], "rideId": call.get("rideId"), "sid": sid,
             "joinedAt": joined_at, "leftAt": None}
    collection().insert_one(entry)


def record_leave(call_id, sid):
    """Stamp `leftAt` on the open entry of this socket's join of the call."""
    collection().update_one({"callId": call_id, "sid": sid, "leftAt": None},
                            {"$set": {"leftAt": now()}})


def record_end(call_id):
    """The call ended: stamp `leftAt` on every entry of it still open."""
    collection().update_many({"callId": call_id, "leftAt": None}, {"$set": {"leftAt": now()}})


def page(account_id, limit, before=None, kind=None):
    """`(entries newest first, next)`: a page of the account's joins (of calls of
    `kind`, if given)."""
    query = {"accountId": account_id} if kind is None else {"accountId": account_id,
                                                            "kind": kind}
    return cursor_page(collection(), query, limit, before)

"""The first answer to a request sent with an `Idempotency-Key`, one document per
account and key, removed by a TTL index once `expiresAt` has passed.

An entry is `running` while its request runs (held by `owner`, one request of the
process `process`, until `lockedUntil`), then `done` with the answer's `status`, `body`
and `contentType`. The unique index decides which of two requests with one key runs."""
from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from shared import storage
from shared.extensions import mongo

COLLECTION = "idempotency_keys"
INDEXES = [
    IndexModel([("account", ASCENDING), ("key", ASCENDING)], unique=True, name="account_key"),
    IndexModel([("expiresAt", ASCENDING)], expireAfterSeconds=0, name="expiry"),
]
RUNNING, DONE = "running", "done"


def collection():
    return mongo.db[COLLECTION]


def claim(account, key, fingerprint, holder, created_at, locked_until, expires_at):
    """Store a running entry for this account and key; False when there is one."""
    try:
        collection().insert_one({
            "account": account, "key": key, "fingerprint": fingerprint, "state": RUNNING,
            **holder, "lockedUntil": locked_until, "createdAt": created_at,
            "expiresAt": expires_at})
    except DuplicateKeyError:
        return False
    return True


def find(account, key):
    return collection().find_one({"account": account, "key": key})


def take_over(entry, holder, locked_until):
    """Hold the running `entry` instead of its stale holder; False when another
    request changed it first."""
    query = {"_id": entry["_id"], "state": RUNNING, "owner": entry["owner"]}
    return storage.find_one_and_update(
        collection(), query, {"$set": {**holder, "lockedUntil": locked_until}}) is not None


def complete(account, key, owner, status, body, content_type):
    """Record the answer of the request that holds the entry."""
    storage.update_one(
        collection(), {"account": account, "key": key, "state": RUNNING, "owner": owner},
        {"$set": {"state": DONE, "status": status, "body": body,
                  "contentType": content_type},
         "$unset": {"lockedUntil": ""}})


def release(account, key, owner):
    """Drop the entry of a request that changed nothing, so that a retry runs again."""
    collection().delete_one({"account": account, "key": key, "state": RUNNING,
                             "owner": owner})


def release_process(process):
    """Drop the running entries held by the requests of the process `process`."""
    collection().delete_many({"process": process, "state": RUNNING})

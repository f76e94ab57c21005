"""The MongoDB connection: one client per process and URI, and the indexes.

`mongo` is created here and bound to an app in its factory (`mongo.init_app(app)`).
Models use `mongo.db` (the database named in MONGO_URI).
"""
import copy
import logging
import threading

from flask import current_app
from pymongo import MongoClient, ReturnDocument
from pymongo.errors import PyMongoError

log = logging.getLogger(__name__)

_clients = {}
_clients_lock = threading.Lock()


def get_client(uri, timeout_ms=2000):
    """The process-wide MongoClient for `uri` (pymongo clients are thread- and fork-unsafe
    to share across forks, but safe to share across threads and greenlets)."""
    with _clients_lock:
        client = _clients.get(uri)
        if client is None:
            client = MongoClient(
                uri,
                serverSelectionTimeoutMS=timeout_ms,
                connectTimeoutMS=timeout_ms,
                tz_aware=True,
            )
            _clients[uri] = client
        return client


def close_clients():
    with _clients_lock:
        for client in _clients.values():
            client.close()
        _clients.clear()


class _MongoState:
    def __init__(self, client, db):
        self.client = client
        self.db = db
        self.indexes_ready = False


class Mongo:
    """Flask extension: `mongo.db` is the current app's database (named in MONGO_URI)."""

    def __init__(self, app=None):
        if app is not None:
            self.init_app(app)

    def init_app(self, app):
        client = get_client(app.config["MONGO_URI"], app.config["MONGO_TIMEOUT_MS"])
        app.extensions["mongo"] = _MongoState(client, client.get_default_database())
        ensure_indexes(app.extensions["mongo"])

        @app.before_request
        def _retry_indexes():
            ensure_indexes(app.extensions["mongo"])

    @property
    def _state(self):
        return current_app.extensions["mongo"]

    @property
    def db(self):
        return self._state.db

    @property
    def client(self):
        return self._state.client

    def ping(self):
        self.client.admin.command("ping")


def ensure_indexes(state):
    """Create every collection's indexes (idempotent). If the database is down at
    start-up the service still starts (readyz says 503) and the next request retries."""
    if state.indexes_ready:
        return
    from shared.models import all_indexes

    try:
        for collection, indexes in all_indexes().items():
            if indexes:
                state.db[collection].create_indexes(indexes)
    except PyMongoError as exc:
        log.warning("could not create indexes yet: %s", type(exc).__name__)
        return
    state.indexes_ready = True


mongo = Mongo()


# Bumped by every update made through `find_one_and_update` below (and by any other
# write to such a document that must not be missed); models hide it from the API.
REVISION = "_rev"
GUARDED_ATTEMPTS = 5


def find_one_and_update(collection, query, update):
    """What `collection.find_one_and_update(query, update, return_document=AFTER)`
    does, as a read and a guarded `update_one`: the document after the update, or None
    when none matches `query`. `update` may use `$set`, `$unset` and `$inc`.

    Why not the driver's own: SecantusDB, the embedded default database, re-checks a
    matched findAndModify with a filter its planner cannot use an index for, so each one
    scans the whole collection (37 ms at 3,000 rides, 104 ms at 9,000; BENCHMARKS.md,
    "Query costs"). Under the soak that made every ride transition slower as rides
    piled up, until requests timed out.

    Still atomic: the write names the document read, repeats `query` (so it lands only
    if the document still matches) and the REVISION read (so it lands only if no
    update through here came in between); a lost race reads again. The document
    returned is the one read with `update` applied. On real MongoDB this costs one more
    round trip; after GUARDED_ATTEMPTS lost races it falls back to findAndModify."""
    guarded_update = {**update, "$inc": {**update.get("$inc", {}), REVISION: 1}}
    for _ in range(GUARDED_ATTEMPTS):
        before = collection.find_one(query)
        if before is None:
            return None
        guard = {**query, "_id": before["_id"], REVISION: before.get(REVISION)}
        if collection.update_one(guard, guarded_update).modified_count:
            return apply_update(before, guarded_update)
    return collection.find_one_and_update(query, guarded_update,
                                          return_document=ReturnDocument.AFTER)


def apply_update(document, update):
    """A copy of `document` with the `$set`, `$unset` and `$inc` of `update` applied
    (dotted paths allowed), as the server applies them."""
    unsupported = set(update) - {"$set", "$unset", "$inc"}
    if unsupported:
        raise ValueError(f"apply_update: unsupported operators {sorted(unsupported)}")
    result = copy.deepcopy(document)
    for path, value in update.get("$set", {}).items():
        parent, key = _parent(result, path, create=True)
        parent[key] = copy.deepcopy(value)
    for path in update.get("$unset", {}):
        parent, key = _parent(result, path, create=False)
        if parent is not None:
            parent.pop(key, None)
    for path, amount in update.get("$inc", {}).items():
        parent, key = _parent(result, path, create=True)
        parent[key] = parent.get(key, 0) + amount
    return result


def _parent(document, path, create):
    """(the dict holding the last part of a dotted `path`, that last part)."""
    *parents, key = path.split(".")
    node = document
    for part in parents:
        if not isinstance(node.get(part), dict):
            if not create:
                return None, key
            node[part] = {}
        node = node[part]
    return node, key

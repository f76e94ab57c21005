"""Guarded (conditional, atomic) updates, chosen once per client: on MongoDB the driver's
findAndModify; on SecantusDB, whose findAndModify scans the whole collection, a read and an
`update_one` guarded by a REVISION counter that every other write bumps (`update_one`).
`update_each` writes many documents in one bulk. And `cursor_page`, the one pager of the
models (newest first, by `_id`).
"""
import copy
import logging
import threading
import weakref

from pymongo import ReturnDocument, UpdateOne
from pymongo.errors import OperationFailure

log = logging.getLogger(__name__)

# Bumped, in the SecantusDB strategy, by every write to a document that guarded updates
# touch; models hide it from the API.
REVISION = "_rev"
GUARDED_ATTEMPTS = 5


class MongoDBStrategy:
    """Plain driver calls: findAndModify is atomic and uses the indexes."""

    name = "mongodb"

    def find_one_and_update(self, collection, query, update):
        return collection.find_one_and_update(query, update,
                                              return_document=ReturnDocument.AFTER)

    def update_one(self, collection, query, update, **kwargs):
        return collection.update_one(query, update, **kwargs)

    def update_many(self, collection, query, update, **kwargs):
        return collection.update_many(query, update, **kwargs)

    def update_each(self, collection, updates):
        return collection.bulk_write([UpdateOne(q, u) for q, u in updates], ordered=False)


class SecantusDBStrategy:
    """findAndModify as a read and a guarded update_one (BENCHMARKS.md, "Query costs")."""

    name = "secantusdb"

    def find_one_and_update(self, collection, query, update):
        """What `collection.find_one_and_update(query, update, return_document=AFTER)`
        does: the document after the update, or None when none matches `query`.
        `update` may use `$set`, `$unset` and `$inc`.

        Still atomic: the write names the document read, repeats `query` (so it lands
        only if the document still matches) and the REVISION read (so it lands only if
        no write that bumps it came in between); a lost race reads again. The document
        returned is the one read with `update` applied. After GUARDED_ATTEMPTS lost
        races it falls back to findAndModify."""
        guarded_update = _bumped(update)
        for _ in range(GUARDED_ATTEMPTS):
            before = collection.find_one(query)
            if before is None:
                return None
            guard = {**query, "_id": before["_id"], REVISION: before.get(REVISION)}
            if collection.update_one(guard, guarded_update).modified_count:
                return apply_update(before, guarded_update)
        return collection.find_one_and_update(query, guarded_update,
                                              return_document=ReturnDocument.AFTER)

    def update_one(self, collection, query, update, **kwargs):
        """`collection.update_one` that also bumps REVISION, so that a guarded update
        which read the document before this write reads it again."""
        return collection.update_one(query, _bumped(update), **kwargs)

    def update_many(self, collection, query, update, **kwargs):
        return collection.update_many(query, _bumped(update), **kwargs)

    def update_each(self, collection, updates):
        return collection.bulk_write([UpdateOne(q, _bumped(u)) for q, u in updates],
                                     ordered=False)


MONGODB = MongoDBStrategy()
SECANTUSDB = SecantusDBStrategy()

_strategies = {}  # id(client) -> strategy, dropped when the client is garbage-collected
_strategies_lock = threading.Lock()


def detect(client):
    """SECANTUSDB when the server is SecantusDB (its buildInfo carries `secantusVersion`,
    which mongod's lacks), MONGODB otherwise. Raises ConnectionFailure when the server
    does not answer."""
    try:
        info = client.server_info()
    except OperationFailure:  # mongod with buildInfo restricted; SecantusDB answers it
        return MONGODB
    return SECANTUSDB if "secantusVersion" in info else MONGODB


def use(client, strategy):
    """Make `strategy` the one for `client` (start-up detection, or a test forcing it)."""
    key = id(client)
    with _strategies_lock:
        if key not in _strategies:
            weakref.finalize(client, _strategies.pop, key, None)
        _strategies[key] = strategy
    log.info("guarded updates: %s strategy", strategy.name)
    return strategy


def strategy_for(client):
    """The strategy of `client`, detected on first use and cached (not cached when the
    server does not answer: ConnectionFailure then, and the next call detects again)."""
    strategy = _strategies.get(id(client))
    return strategy if strategy is not None else use(client, detect(client))


def find_one_and_update(collection, query, update):
    """The document matching `query` after `update`, or None when none matches, in one
    atomic step (`$set`, `$unset` and `$inc` only)."""
    return strategy_for(collection.database.client).find_one_and_update(
        collection, query, update)


def update_one(collection, query, update, **kwargs):
    """`collection.update_one`, for every write to a document that guarded updates touch."""
    return strategy_for(collection.database.client).update_one(
        collection, query, update, **kwargs)


def update_many(collection, query, update, **kwargs):
    """`collection.update_many`, for such documents (see `update_one`)."""
    return strategy_for(collection.database.client).update_many(
        collection, query, update, **kwargs)


def update_each(collection, updates):
    """One unordered bulk write of `update_one(query, update)` per `(query, update)` of
    `updates` (a non-empty list), as `update_one` writes them."""
    return strategy_for(collection.database.client).update_each(collection, updates)


def _bumped(update):
    return {**update, "$inc": {**update.get("$inc", {}), REVISION: 1}}


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


def cursor_page(collection, query, limit, before=None, **find_options):
    """`(documents, next)`: up to `limit` documents matching `query` older than the id
    `before`, newest first; `next` is the id to pass as `before` for the following
    page, or None on the last one."""
    if before is not None:
        # A plain field keeps the query indexable on SecantusDB (no top-level `$and`).
        older = {"$lt": before}
        query = {**query, "_id": older} if "_id" not in query else {
            "$and": [query, {"_id": older}]}
    found = list(collection.find(query, **find_options).sort("_id", -1).limit(limit + 1))
    page = found[:limit]
    return page, (str(page[-1]["_id"]) if len(found) > limit else None)

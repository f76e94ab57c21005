"""The MongoDB connection: one client per process and URI, and the indexes.

`Mongo` is the extension (its one instance, `mongo`, is in shared.extensions, bound
to an app in its factory).
Models use `mongo.db` (the database named in MONGO_URI); guarded updates are in
shared/storage.py.
"""
import logging
import re
import threading

import pymongo
from flask import current_app
from pymongo import MongoClient
from pymongo.errors import ConnectionFailure, PyMongoError

from shared import storage

log = logging.getLogger(__name__)

# Start-up waits at most this long (or MONGO_TIMEOUT_MS, if shorter) for the database
# before leaving the indexes to readiness: a worker that loads its app while the
# database is away answers /healthz at once, not after a whole MONGO_TIMEOUT_MS.
STARTUP_PROBE_MS = 500

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
    def __init__(self, client, db, uri, models):
        self.client = client
        self.db = db
        self.uri = uri
        self.models = models
        self.indexes_ready = False


class Mongo:
    """Flask extension: `mongo.db` is the current app's database (named in MONGO_URI)."""

    def __init__(self, app=None):
        if app is not None:
            self.init_app(app)

    def init_app(self, app, models=()):
        """Bind the client, pick the storage strategy and create the indexes of the model
        modules `models` (those that own the app's collections), once. With
        the database down the app still starts, after a short probe (STARTUP_PROBE_MS)
        and one warning; `ready()` retries."""
        uri = app.config["MONGO_URI"]
        timeout_ms = app.config["MONGO_TIMEOUT_MS"]
        client = get_client(uri, timeout_ms)
        database = client.get_default_database()
        state = app.extensions["mongo"] = _MongoState(client, database, uri, models)
        try:
            with pymongo.timeout(min(timeout_ms, STARTUP_PROBE_MS) / 1000):
                client.admin.command("ping")
            storage.strategy_for(client)
            create_indexes(state.db, state.models)
            state.indexes_ready = True
        except ConnectionFailure as exc:
            log.warning("cannot reach MongoDB at %s (%s); indexes will be created when it "
                        "answers", mask_uri(uri), type(exc).__name__)
        except PyMongoError as exc:
            log.warning("could not create indexes on %s (%s: %s); readiness retries",
                        mask_uri(uri), type(exc).__name__, exc)

    @property
    def _state(self):
        return current_app.extensions["mongo"]

    @property
    def db(self):
        return self._state.db

    @property
    def client(self):
        return self._state.client

    @property
    def models(self):
        return self._state.models

    def ping(self):
        self.client.admin.command("ping")

    def ready(self):
        """Readiness: ping, then create the indexes if start-up could not. Raises
        ConnectionFailure while the database does not answer."""
        self.ping()
        state = self._state
        if not state.indexes_ready:
            storage.strategy_for(state.client)
            create_indexes(state.db, state.models)
            state.indexes_ready = True
            log.info("indexes created on %s", mask_uri(state.uri))


def indexes_of(models):
    """{collection name: [IndexModel, ...]} that the model modules `models` declare: a
    module owning one collection declares `COLLECTION` and `INDEXES` (a list), one owning
    several declares `INDEXES` as {collection: [IndexModel, ...]}."""
    indexes = {}
    for module in models:
        declared = getattr(module, "INDEXES", None)
        if isinstance(declared, dict):
            for collection, models_of_collection in declared.items():
                indexes.setdefault(collection, []).extend(models_of_collection)
        elif declared:
            indexes.setdefault(module.COLLECTION, []).extend(declared)
    return indexes


def create_indexes(db, models):
    """Create the indexes `models` declare (idempotent): {collection: [index names]}."""
    return {collection: db[collection].create_indexes(indexes)
            for collection, indexes in indexes_of(models).items() if indexes}


def mask_uri(uri):
    """`uri` with its password (and any password option) replaced by ***."""
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return uri
    before_query, qmark, query = rest.partition("?")
    userinfo, at, hosts = before_query.rpartition("@")
    if at and ":" in userinfo:
        before_query = f"{userinfo.split(':', 1)[0]}:***@{hosts}"
    query = _PASSWORD_OPTION.sub(r"\1***", query)
    return f"{scheme}://{before_query}{qmark}{query}"


_PASSWORD_OPTION = re.compile(r"((?:^|&)[^=&]*password=)[^&]*", re.IGNORECASE)


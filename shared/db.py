"""The MongoDB connection: one client per process and URI, and the indexes.

`mongo` is created here and bound to an app in its factory (`mongo.init_app(app)`).
Models use `mongo.db` (the database named in MONGO_URI).
"""
import logging
import threading

from flask import current_app
from pymongo import MongoClient
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

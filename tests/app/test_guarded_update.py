"""shared.storage: conditional updates that return the document after them, in both
strategies (the driver's findAndModify for MongoDB; a read and a guarded update_one for
SecantusDB, whose findAndModify scans the whole collection), and how the strategy is
chosen. Against the real database server, with real threads racing."""
import threading
from datetime import UTC, datetime

import pytest
from bson import ObjectId
from pymongo import MongoClient, monitoring
from pymongo.errors import ConnectionFailure

from shared import storage
from shared.storage import GUARDED_ATTEMPTS, REVISION, apply_update, find_one_and_update
from tests.harness import free_port

WORKAROUND = storage.SECANTUSDB


class Commands(monitoring.CommandListener):
    def __init__(self):
        self.names = []

    def started(self, event):
        self.names.append(event.command_name)

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


def watched_client(mongo_uri):
    commands = Commands()
    return MongoClient(mongo_uri, tz_aware=True, event_listeners=[commands]), commands


@pytest.fixture
def watched(mongo_uri, db):
    """(the test collection through a client that records its commands, the recorder);
    the strategy is the one detected for the server (SecantusDB's)."""
    client, commands = watched_client(mongo_uri)
    yield client.get_default_database()["guarded"], commands
    client.close()


@pytest.fixture(params=["mongodb", "secantusdb"])
def each_strategy(request, watched):
    """`watched`, once with each strategy forced on its client."""
    collection, commands = watched
    storage.use(collection.database.client,
                {"mongodb": storage.MONGODB, "secantusdb": storage.SECANTUSDB}[request.param])
    return collection, commands, request.param


def test_secantusdb_is_detected_once_per_client(mongo_uri, db):
    client, commands = watched_client(mongo_uri)
    try:
        assert storage.detect(client) is storage.SECANTUSDB
        collection = client.get_default_database()["guarded"]
        doc_id = collection.insert_one({"n": 0}).inserted_id
        commands.names.clear()
        for _ in range(3):
            find_one_and_update(collection, {"_id": doc_id}, {"$inc": {"n": 1}})
        assert [name.lower() for name in commands.names].count("buildinfo") == 1
        assert "findAndModify" not in commands.names
        assert storage.strategy_for(client) is storage.SECANTUSDB
    finally:
        client.close()


def test_a_server_without_the_secantusdb_marker_is_mongodb():
    class Mongod:  # what mongod 7 answers to buildInfo: no `secantusVersion`
        def server_info(self):
            return {"version": "7.0.14", "gitVersion": "ce59cfc6a3c5e5c067dca0d30697edd68d4f5188",
                    "versionArray": [7, 0, 14, 0], "bits": 64, "ok": 1.0}

    assert storage.detect(Mongod()) is storage.MONGODB


def test_an_unreachable_server_is_decided_at_first_use():
    dead = f"mongodb://127.0.0.1:{free_port()}/x?directConnection=true&retryWrites=false"
    client = MongoClient(dead, serverSelectionTimeoutMS=300)
    try:
        with pytest.raises(ConnectionFailure):
            storage.strategy_for(client)
        with pytest.raises(ConnectionFailure):
            find_one_and_update(client.x.guarded, {"_id": 1}, {"$set": {"a": 1}})
        assert id(client) not in storage._strategies  # nothing cached: detected again later
    finally:
        client.close()


def test_returns_the_document_as_stored_after_the_update(each_strategy):
    collection, commands, strategy = each_strategy
    doc_id = collection.insert_one({"status": "pending", "n": 1, "profile": {"a": 1, "b": 2},
                                    "gone": True}).inserted_id
    stamp = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    after = find_one_and_update(collection, {"_id": doc_id, "status": "pending"}, {
        "$set": {"status": "accepted", "profile.a": 5, "at": stamp},
        "$unset": {"gone": ""}, "$inc": {"n": 2}})
    assert after == collection.find_one({"_id": doc_id})
    assert after["status"] == "accepted" and after["n"] == 3
    assert after["profile"] == {"a": 5, "b": 2}
    assert "gone" not in after
    if strategy == "secantusdb":
        assert after[REVISION] == 1
        assert "findAndModify" not in commands.names
    else:
        assert REVISION not in after
        assert commands.names.count("findAndModify") == 1


def test_no_match_changes_nothing(each_strategy):
    collection, _, _ = each_strategy
    doc_id = collection.insert_one({"status": "ongoing"}).inserted_id
    assert find_one_and_update(collection, {"_id": doc_id, "status": "pending"},
                               {"$set": {"status": "accepted"}}) is None
    assert find_one_and_update(collection, {"_id": ObjectId()}, {"$set": {"x": 1}}) is None
    assert collection.find_one({"_id": doc_id}) == {"_id": doc_id, "status": "ongoing"}


def test_exactly_one_of_many_racing_transitions_wins(each_strategy):
    collection, _, _ = each_strategy
    doc_id = collection.insert_one({"status": "pending", "winner": None}).inserted_id
    results, start = [None] * 16, threading.Barrier(16)

    def take(n):
        start.wait()
        results[n] = find_one_and_update(collection, {"_id": doc_id, "status": "pending"},
                                         {"$set": {"status": "accepted", "winner": n}})

    threads = [threading.Thread(target=take, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    assert collection.find_one({"_id": doc_id}) == winners[0]


def test_racing_increments_are_all_counted_and_each_sees_its_own_result(each_strategy):
    collection, _, _ = each_strategy
    doc_id = collection.insert_one({"n": 0}).inserted_id
    seen, lock, start = [], threading.Lock(), threading.Barrier(12)

    def bump():
        start.wait()
        for _ in range(5):
            after = find_one_and_update(collection, {"_id": doc_id}, {"$inc": {"n": 1}})
            with lock:
                seen.append(after["n"])

    threads = [threading.Thread(target=bump) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert collection.find_one({"_id": doc_id})["n"] == 60
    assert sorted(seen) == list(range(1, 61))  # no two callers saw the same state


def test_update_one_bumps_the_revision_only_in_the_secantusdb_strategy(each_strategy):
    collection, _, strategy = each_strategy
    doc_id = collection.insert_one({"socketId": None}).inserted_id
    result = storage.update_one(collection, {"_id": doc_id}, {"$set": {"socketId": "s1"}})
    assert result.modified_count == 1
    stored = collection.find_one({"_id": doc_id})
    assert stored["socketId"] == "s1"
    assert stored.get(REVISION) == (1 if strategy == "secantusdb" else None)
    storage.update_one(collection, {"_id": doc_id}, {"$set": {"socketId": "s2"}, "$inc": {"n": 1}})
    stored = collection.find_one({"_id": doc_id})
    assert stored["n"] == 1 and stored.get(REVISION) == (2 if strategy == "secantusdb" else None)


def test_a_write_through_update_one_in_between_is_not_lost(watched):
    """A captain's location written between the guarded read and write: the guarded write
    misses (the revision moved), reads again, and returns the new location too."""
    collection, _ = watched
    doc_id = collection.insert_one({"status": "inactive", "location": "A"}).inserted_id
    original_find_one, writes = collection.find_one, []

    class Interleaved:
        def find_one(self, query):
            before = original_find_one(query)
            if not writes:
                writes.append(WORKAROUND.update_one(collection, {"_id": doc_id},
                                                    {"$set": {"location": "B"}}))
            return before

        def update_one(self, *args):
            return collection.update_one(*args)

    after = WORKAROUND.find_one_and_update(Interleaved(), {"_id": doc_id},
                                           {"$set": {"status": "active"}})
    assert after == collection.find_one({"_id": doc_id})
    assert (after["status"], after["location"], after[REVISION]) == ("active", "B", 2)


def test_a_condition_broken_by_a_plain_write_in_between_is_respected(watched):
    """The guard repeats the query: a write that did not go through the helper (so did
    not bump the revision) still stops a transition whose condition it broke."""
    collection, _ = watched
    doc_id = collection.insert_one({"status": "accepted", "failures": 4}).inserted_id
    original_find_one = collection.find_one

    class Interleaved:
        def find_one(self, query):
            before = original_find_one(query)
            collection.update_one({"_id": doc_id}, {"$inc": {"failures": 1}})  # the lockout
            return before

        def update_one(self, *args):
            return collection.update_one(*args)

        def find_one_and_update(self, *args, **kwargs):
            return collection.find_one_and_update(*args, **kwargs)

    query = {"_id": doc_id, "status": "accepted", "failures": {"$lt": 5}}
    assert WORKAROUND.find_one_and_update(Interleaved(), query,
                                          {"$set": {"status": "ongoing"}}) is None
    assert collection.find_one({"_id": doc_id})["status"] == "accepted"


def test_apply_update_refuses_operators_it_cannot_mirror():
    with pytest.raises(ValueError, match=r"\$push"):
        apply_update({"_id": 1}, {"$push": {"a": 1}})


def test_after_losing_every_race_it_falls_back_to_find_and_modify(watched):
    collection, commands = watched
    doc_id = collection.insert_one({"n": 0}).inserted_id

    class AlwaysOvertaken:
        """Between each read and write, another writer gets there first."""

        def find_one(self, query):
            return collection.find_one(query)

        def update_one(self, guard, update):
            collection.update_one({"_id": doc_id}, {"$inc": {"n": 10, REVISION: 1}})
            return collection.update_one(guard, update)

        def find_one_and_update(self, *args, **kwargs):
            return collection.find_one_and_update(*args, **kwargs)

    after = WORKAROUND.find_one_and_update(AlwaysOvertaken(), {"_id": doc_id}, {"$inc": {"n": 1}})
    assert commands.names.count("update") == 2 * GUARDED_ATTEMPTS
    assert commands.names[-1] == "findAndModify"
    assert after == collection.find_one({"_id": doc_id})
    assert after["n"] == 10 * GUARDED_ATTEMPTS + 1

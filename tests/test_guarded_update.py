"""shared.db.find_one_and_update: a conditional update that returns the document after
it, without the findAndModify command (which scans the whole collection on SecantusDB).
Against the real database server, with real threads racing."""
import threading
from datetime import UTC, datetime

import pytest
from bson import ObjectId
from pymongo import MongoClient, monitoring

from shared.db import GUARDED_ATTEMPTS, REVISION, apply_update, find_one_and_update


class Commands(monitoring.CommandListener):
    def __init__(self):
        self.names = []

    def started(self, event):
        self.names.append(event.command_name)

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


@pytest.fixture
def watched(mongo_uri, db):
    """(the test collection through a client that records its commands, the recorder)"""
    commands = Commands()
    client = MongoClient(mongo_uri, tz_aware=True, event_listeners=[commands])
    yield client.get_default_database()["guarded"], commands
    client.close()


def test_returns_the_document_as_stored_after_the_update(watched):
    collection, commands = watched
    doc_id = collection.insert_one({"status": "pending", "n": 1, "profile": {"a": 1, "b": 2},
                                    "gone": True}).inserted_id
    stamp = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    after = find_one_and_update(collection, {"_id": doc_id, "status": "pending"}, {
        "$set": {"status": "accepted", "profile.a": 5, "at": stamp},
        "$unset": {"gone": ""}, "$inc": {"n": 2}})
    assert after == collection.find_one({"_id": doc_id})
    assert after["status"] == "accepted" and after["n"] == 3
    assert after["profile"] == {"a": 5, "b": 2}
    assert "gone" not in after and after[REVISION] == 1
    assert "findAndModify" not in commands.names


def test_no_match_changes_nothing(watched):
    collection, _ = watched
    doc_id = collection.insert_one({"status": "ongoing"}).inserted_id
    assert find_one_and_update(collection, {"_id": doc_id, "status": "pending"},
                               {"$set": {"status": "accepted"}}) is None
    assert find_one_and_update(collection, {"_id": ObjectId()}, {"$set": {"x": 1}}) is None
    assert collection.find_one({"_id": doc_id}) == {"_id": doc_id, "status": "ongoing"}


def test_exactly_one_of_many_racing_transitions_wins(watched):
    collection, _ = watched
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


def test_racing_increments_are_all_counted_and_each_sees_its_own_result(watched):
    collection, _ = watched
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
    assert find_one_and_update(Interleaved(), query, {"$set": {"status": "ongoing"}}) is None
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

    after = find_one_and_update(AlwaysOvertaken(), {"_id": doc_id}, {"$inc": {"n": 1}})
    assert commands.names.count("update") == 2 * GUARDED_ATTEMPTS
    assert commands.names[-1] == "findAndModify"
    assert after == collection.find_one({"_id": doc_id})
    assert after["n"] == 10 * GUARDED_ATTEMPTS + 1

"""Group commit of chat sends (realtime_service.chat.group_commit): sends arriving
together are stored with one write in arrival order and pushed in that order; a failed
batch fails each of its sends and the next batch is written; duplicates and errors
inside a batch (messages.insert_batch) keep the order."""
import gevent
import pytest
from bson import ObjectId
from gevent.event import Event
from pymongo.collection import Collection
from pymongo.errors import AutoReconnect, BulkWriteError

from realtime_service.chat import messages
from realtime_service.chat.group_commit import GroupCommit

from ..factories import make_user, token_for


@pytest.fixture
def batches(monkeypatch):
    """The sizes of the batches messages.insert_batch wrote, in order."""
    sizes, insert = [], messages.insert_batch

    def recording(found):
        sizes.append(len(found))
        return insert(found)

    monkeypatch.setattr(messages, "insert_batch", recording)
    return sizes


def send_at_once(tabs, receiver, texts):
    """Each tab sends one text, all at once (one greenlet each, started in order)."""
    calls = [gevent.spawn(tab.call, "send-message", {"to": str(receiver["_id"]), "text": text})
             for tab, text in zip(tabs, texts, strict=True)]
    gevent.joinall(calls, raise_error=True)
    return [call.value for call in calls]


def test_sends_arriving_together_are_one_write_in_arrival_order(realtime_app, app_sockets, db,
                                                                batches):
    bob = make_user(db)
    senders = [make_user(db) for _ in range(5)]
    tabs = [app_sockets(realtime_app, token_for(sender)) for sender in senders]
    bob_tab = app_sockets(realtime_app, token_for(bob))
    texts = [f"message {n}" for n in range(5)]
    acks = send_at_once(tabs, bob, texts)
    assert [ack["ok"] for ack in acks] == [True] * 5
    assert batches == [5]
    stored = list(db.messages.find().sort("_id", 1))
    assert [m["text"] for m in stored] == texts
    assert [str(m["_id"]) for m in stored] == [ack["newMessage"]["_id"] for ack in acks]
    bob_tab.wait_for("newMessage", lambda m: m["text"] == texts[-1])
    assert [m["text"] for m in bob_tab.events["newMessage"]] == texts


def test_a_batch_holds_at_most_chat_commit_max(make_realtime_app, app_sockets, db, batches):
    app = make_realtime_app(CHAT_COMMIT_MAX=2)
    bob, alice = make_user(db), make_user(db)
    tabs = [app_sockets(app, token_for(alice)) for _ in range(5)]
    texts = [f"in order {n}" for n in range(5)]
    assert all(ack["ok"] for ack in send_at_once(tabs, bob, texts))
    assert batches == [2, 2, 1]
    assert [m["text"] for m in db.messages.find().sort("_id", 1)] == texts


def test_two_sends_with_one_client_id_in_one_batch(realtime_app, app_sockets, db, batches):
    alice, bob = make_user(db), make_user(db)
    tabs = [app_sockets(realtime_app, token_for(alice)) for _ in range(2)]
    data = {"to": str(bob["_id"]), "text": "once", "clientMessageId": "one-id"}
    calls = [gevent.spawn(tab.call, "send-message", data) for tab in tabs]
    gevent.joinall(calls, raise_error=True)
    assert batches == [2]  # both reached the write; the unique index kept one
    assert calls[0].value["ok"] and calls[1].value == calls[0].value
    assert db.messages.count_documents({}) == 1


def test_a_failed_batch_fails_each_send_and_the_next_one_is_written(
        realtime_app, app_sockets, db, monkeypatch):
    bob = make_user(db)
    senders = [make_user(db) for _ in range(3)]
    tabs = [app_sockets(realtime_app, token_for(sender)) for sender in senders]
    bob_tab = app_sockets(realtime_app, token_for(bob))
    def unreachable(self, *args, **kwargs):
        raise AutoReconnect("connection closed")

    monkeypatch.setattr(Collection, "insert_many", unreachable)
    acks = send_at_once(tabs, bob, ["a", "b", "c"])
    assert acks == [{"ok": False, "message": "Service unavailable, try again later"}] * 3
    assert db.messages.count_documents({}) == 0
    bob_tab.settle()
    assert "newMessage" not in bob_tab.events
    monkeypatch.undo()
    assert all(ack["ok"] for ack in send_at_once(tabs, bob, ["d", "e", "f"]))
    assert [m["text"] for m in db.messages.find().sort("_id", 1)] == ["d", "e", "f"]


def test_insert_batch_skips_duplicates_and_stops_at_an_error(realtime_app, db):
    alice, bob = ObjectId(), ObjectId()
    with realtime_app.app_context():
        messages.insert_batch([messages.new(alice, bob, "first", key="k")])
        found = [messages.new(alice, bob, "a"), messages.new(alice, bob, "again", key="k"),
                 messages.new(alice, bob, "b")]
        found += [{**found[0]}, messages.new(alice, bob, "c")]  # "a"'s _id again: an error
        outcomes = messages.insert_batch(found)
    assert outcomes[:3] == [True, False, True]
    assert all(isinstance(outcome, BulkWriteError) for outcome in outcomes[3:])
    assert [m["text"] for m in db.messages.find().sort("_id", 1)] == ["first", "a", "b"]


# The GroupCommit itself, around plain functions.

def commit(write, limit=100):
    return GroupCommit(write, 0, limit, Event)


def test_a_failing_after_step_fails_only_its_send():
    written, told = [], []
    group = commit(lambda items: written.append(list(items)) or [True] * len(items))

    def tell(item):
        if item == "bad":
            raise RuntimeError("push failed")
        told.append(item)

    calls = [gevent.spawn(group.submit, item, tell) for item in ("a", "bad", "c")]
    gevent.joinall(calls)
    assert written == [["a", "bad", "c"]] and told == ["a", "c"]
    assert [call.value for call in calls] == [True, None, True]
    assert str(calls[1].exception) == "push failed"


def test_per_item_errors_and_refusals_reach_their_sends():
    outcome = {"a": True, "dup": False, "err": ValueError("refused")}
    group = commit(lambda items: [outcome[item] for item in items])
    ran = []
    calls = [gevent.spawn(group.submit, item, ran.append) for item in ("a", "dup", "err")]
    gevent.joinall(calls)
    assert [calls[0].value, calls[1].value] == [True, False]
    assert isinstance(calls[2].exception, ValueError)
    assert ran == ["a"]  # only what was stored runs its after-store step


def test_a_leader_stopped_mid_write_fails_its_batch_and_hands_on_the_lead():
    entered, release, writes = Event(), Event(), []

    def write(items):
        writes.append(list(items))
        if len(writes) == 1:
            entered.set()
            release.wait()
        return [True] * len(items)

    group = commit(write, limit=1)
    leader = gevent.spawn(group.submit, "first")
    entered.wait()
    waiting = gevent.spawn(group.submit, "second")
    gevent.sleep(0)
    leader.kill()
    assert waiting.get(timeout=5) is True
    assert writes == [["first"], ["second"]]
    assert group.leading is False and group.queue == []


def test_group_commit_off_writes_each_send_alone(make_realtime_app, app_sockets, db, batches):
    app = make_realtime_app(CHAT_COMMIT_MAX=0)
    bob, alice = make_user(db), make_user(db)
    tabs = [app_sockets(app, token_for(alice)) for _ in range(3)]
    bob_tab = app_sockets(app, token_for(bob))
    acks = send_at_once(tabs, bob, ["x", "y", "z"])
    assert all(ack["ok"] for ack in acks) and batches == [1, 1, 1]
    bob_tab.wait_for("newMessage", lambda m: m["text"] == "z")
    data = {"to": str(bob["_id"]), "text": "once", "clientMessageId": "k"}
    assert tabs[0].call("send-message", data) == tabs[1].call("send-message", data)
    assert db.messages.count_documents({}) == 4

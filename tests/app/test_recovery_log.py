"""The recovery logs' rules, in memory and in a real Redis: what is replayed after an
offset and to whom, and when a recovery is refused because something may be gone."""
import json
import random
import time

import pytest
import redis

from realtime_service.sockets import packet_log
from realtime_service.sockets.packet_log import MemoryLog, Reached, RedisLog, Session, addressed_to


def memory_log(window=60, max_packets=100, max_bytes=10_000):
    return MemoryLog(window, max_packets, max_bytes)


def log_packets(log, *rooms):
    """One packet per room (its text the room), returning their offsets."""
    offsets = []
    for room in rooms:
        log.append(room, [], lambda offset, room=room: offsets.append(offset) or f"to {room}")
    return offsets


def test_replay_after_an_offset_keeps_the_sockets_own_packets_in_order():
    log = memory_log()
    start = log.position()
    offsets = log_packets(log, "alice", "bob", "alice", ["bob", "alice"], None)
    assert [packet for _, packet in log.missed(start, ["sid1", "alice"])] == [
        "to alice", "to alice", "to ['bob', 'alice']", "to None"]
    assert [offset for offset, _ in log.missed(offsets[1], ["alice"])] == offsets[2:]
    assert log.missed(offsets[-1], ["alice"]) == []


def test_a_skipped_socket_is_not_replayed_what_skipped_it():
    assert not addressed_to("alice", ("sid1",), ["sid1", "alice"])
    assert addressed_to("alice", ("sid2",), ["sid1", "alice"])


@pytest.mark.parametrize("bound", [{"max_packets": 3}, {"max_bytes": 15}])
def test_an_offset_older_than_the_log_is_not_recovered(bound):
    log = memory_log(**bound)
    offsets = log_packets(log, *[f"room{n}" for n in range(6)])
    assert log.missed(offsets[0], ["room1"]) is None
    assert log.missed(offsets[-2], ["room5"]) is not None


def test_offsets_of_another_process_or_garbage_are_not_recovered():
    log, other = memory_log(), memory_log()
    offsets = log_packets(log, "alice")
    for offset in (log_packets(other, "alice")[0], "nonsense", f"{log.epoch}:x",
                   f"{log.epoch}:99"):
        assert log.missed(offset, ["alice"]) is None
    assert log.missed(offsets[0], ["alice"]) == []


def test_sessions_are_taken_once_and_expire_with_the_window():
    log = memory_log(window=0.2)
    session = Session("sid1", "pid1", "acc", ["alice"], log.position())
    log.save(session)
    assert log.take("pid1") == session and log.take("pid1") is None
    log.save(session)
    time.sleep(0.3)
    assert log.take("pid1") is None


@pytest.fixture
def redis_log(redis_url):
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    log = RedisLog(client, 60, 100, prefix=f"test:{time.monotonic_ns()}")
    yield log
    for key in client.keys(f"{log.prefix}:*"):
        client.delete(key)


def add(log, rooms, text, skip=()):
    """Log an event as the client manager does (its message published on a channel
    nobody reads); its entry id."""
    return log.publish(rooms, list(skip), json.dumps(["ev", text]), "test:nobody", "", "")


def test_redis_replay_after_an_offset(redis_log):
    first = add(redis_log, "alice", "one")
    add(redis_log, "bob", "two")
    third = add(redis_log, "alice", "three")
    assert redis_log.missed(first, ["alice"]) == [(third, ["ev", "three"])]
    assert redis_log.missed("0-0", ["alice"])[0][1] == ["ev", "one"]


def test_redis_replay_reads_every_kind_of_address(redis_log):
    """One room, several, the whole namespace, a skipped socket, a room name JSON
    escapes: each replayed exactly when the memory log's rule says."""
    start = add(redis_log, "nobody", "zero")
    entries = [("alice", ()), ("bob", ()), (["bob", "alice"], ()), (None, ()),
               ("alice", ["sid1"]), ("alice", ["sid2"]), ('al"ice', ())]
    ids = [add(redis_log, rooms, n, skip) for n, (rooms, skip) in enumerate(entries)]
    got = redis_log.missed(start, ["sid1", "alice"])
    assert got == [(ids[n], ["ev", n]) for n in (0, 2, 3, 5)]
    assert [args[1] for _, args in redis_log.missed(start, ['al"ice'])] == [3, 6]


def test_redis_replay_reads_only_the_sessions_rooms(redis_log):
    """A replay goes through the indexes of the session's rooms (and of the events to
    everyone): it finds what reading the whole Stream finds, and idle indexes expire."""
    rng = random.Random(2)
    rooms = [f"room{n}" for n in range(6)]
    start = add(redis_log, None, "start")
    for n in range(90):  # the log keeps 100
        add(redis_log, rng.choice([None, rng.choice(rooms), rng.sample(rooms, 2)]), n,
            rng.choice([(), ["sid1"]]))
    whole = redis_log.redis.xrange(redis_log.stream, min=f"({start}")
    for _ in range(20):
        session = ["sid1", *rng.sample(rooms, rng.randrange(3))]
        assert redis_log.missed(start, session) == [
            (entry_id, json.loads(fields["e"])) for entry_id, fields in whole
            if addressed_to(json.loads(fields["r"]), json.loads(fields["x"]), session)]
    ttl = redis_log.redis.pttl(redis_log.index("room1"))
    assert 60_000 < ttl <= 120_000


def test_redis_refuses_a_recovery_an_older_version_logged_for(redis_log):
    """While an upgrade rolls out, processes of the previous version log to the old
    Stream, which the indexes do not cover: a session dropped before such an entry is
    not recovered (a new session, never a silent gap); the old Stream goes once it has
    nothing within the window."""
    start = add(redis_log, "alice", "one")
    milliseconds, sequence = start.split("-")
    redis_log.redis.xadd(redis_log.previous, {"r": '"alice"', "x": "[]", "e": '["ev", 2]'},
                         id=f"{milliseconds}-{int(sequence) + 1}")
    three = add(redis_log, "alice", "three")
    assert redis_log.missed(start, ["alice"]) is None
    assert redis_log.missed(three, ["alice"]) == []  # after the old Stream's last entry
    redis_log.redis.delete(redis_log.previous)
    redis_log.redis.xadd(redis_log.previous, {"r": '"a"', "x": "[]", "e": "[]"}, id="1-1")
    assert [args[1] for _, args in redis_log.missed(start, ["alice"])] == ["three"]
    assert not redis_log.redis.exists(redis_log.previous)


def test_redis_refuses_an_offset_after_which_entries_were_trimmed(redis_log):
    ids = [add(redis_log, "alice", str(n)) for n in range(5)]
    redis_log.redis.xtrim(redis_log.stream, maxlen=2, approximate=False)
    assert redis_log.missed(ids[0], ["alice"]) is None
    assert redis_log.missed(ids[2], ["alice"]) is None  # was 3 kept? no way to know
    assert [text for _, (_, text) in redis_log.missed(ids[3], ["alice"])] == ["4"]
    assert redis_log.missed("not-an-id", ["alice"]) is None
    redis_log.redis.xtrim(redis_log.stream, maxlen=0, approximate=False)
    assert redis_log.missed(ids[4], ["alice"]) == []  # empty, nothing after it
    assert redis_log.missed(ids[3], ["alice"]) is None


def test_redis_sessions_are_taken_once(redis_log):
    session = Session("sid1", "pid1", "acc", ["alice", "role:user"], "0-0")
    redis_log.save(session)
    assert redis_log.take("pid1") == session and redis_log.take("pid1") is None


def test_volatile_events_are_delivered_but_not_kept(realtime_app, app_sockets, db):
    from realtime_service.extensions import socketio
    from realtime_service.sockets import notifier
    from tests.factories import make_user, token_for

    alice = make_user(db)
    socket = app_sockets(realtime_app, token_for(alice))
    log = socketio.server.manager.log
    kept = log.next
    with realtime_app.app_context():
        notifier.push(alice["_id"], "typing", {"from": "someone", "active": True})
        notifier.push(alice["_id"], "newMessage", {"text": "kept"})
    assert socket.wait_for("typing") == {"from": "someone", "active": True}
    assert socket.wait_for("newMessage") == {"text": "kept"}
    assert log.next == kept + 1


def test_the_online_list_reaches_the_connection_but_not_the_recovery_log(
        realtime_app, db, app_sockets):
    from realtime_service.app import VOLATILE_EVENTS
    from realtime_service.extensions import socketio
    from tests.factories import make_user, token_for

    assert "getOnlineUsers" in VOLATILE_EVENTS
    user = make_user(db)
    client = app_sockets(realtime_app, token_for(user, "user"))
    assert str(user["_id"]) in client.wait_for("getOnlineUsers")
    logged = socketio.server.manager.log.packets
    assert not any("getOnlineUsers" in entry.packet for entry in logged)


def test_a_volatile_event_waits_for_a_held_connection(realtime_app, db, app_sockets):
    """Like every event, a volatile one waits while a connection's packets are held
    (until its CONNECT answer), and is still not logged."""
    from realtime_service.extensions import socketio
    from tests.factories import make_user, token_for

    manager = socketio.server.manager
    client = app_sockets(realtime_app, token_for(make_user(db), "user"))
    client.settle()
    kept = manager.log.next
    manager.hold(client.sid)
    with realtime_app.app_context():
        socketio.emit("typing", {"from": "someone"}, to=client.sid)
    client.settle()
    assert client.events["typing"] == []  # held
    manager.release(client.sid, [], manager.log.position())  # as after a replay
    assert client.wait_for("typing") == {"from": "someone"}
    assert manager.log.next == kept


def test_a_session_saved_again_expires_from_its_last_save(monkeypatch):
    """Sessions expire oldest first, and only those (a drop looks at no other one): one
    saved again counts from then."""
    clock = [100.0]
    monkeypatch.setattr(packet_log.time, "monotonic", lambda: clock[0])
    log = memory_log(window=10)
    for pid, at in (("a", 100.0), ("b", 104.0), ("a", 108.0)):
        clock[0] = at
        log.save(Session("sid-" + pid, pid, "acc", [], log.position()))
    clock[0] = 115.0
    assert log.take("b") is None
    assert log.take("a").pid == "a"


def test_a_replay_finds_what_a_scan_of_the_whole_log_finds():
    """The log finds a socket's missed packets through each room's own offsets; that
    gives what reading every packet after the offset gives, trimmed log included."""
    rng = random.Random(5)
    log = memory_log(max_packets=300, max_bytes=10**9)
    rooms, offsets = [f"room{n}" for n in range(8)], []
    for _ in range(2000):
        target = rng.choice([None, rng.choice(rooms), [*rng.sample(rooms, 2), rng.choice(rooms)]])
        log.append(target, rng.choice([[], ["sid1"], ["sid2"]]),
                   lambda offset: offsets.append(offset) or f"packet {offset}")
    for _ in range(300):
        session_rooms = ["sid1", *rng.sample(rooms, rng.randrange(4))]
        after = rng.choice(offsets[-300:])
        number = int(after.partition(":")[2])
        assert log.missed(after, session_rooms) == [
            (f"{log.epoch}:{logged.offset}", logged.packet) for logged in log.packets
            if logged.offset > number and addressed_to(logged.rooms, logged.skip, session_rooms)]
    indexed = sorted(offset for room_offsets in log.by_room.values() for offset in room_offsets)
    assert set(indexed) == set(log.logged) == {logged.offset for logged in log.packets}


def test_a_stream_entry_is_told_by_its_text_as_by_its_decoded_fields():
    """Reached reads most entries without decoding them; it answers what addressed_to
    answers on the decoded fields, for names that hold one another or quotes."""
    rng = random.Random(9)
    names = ["room1", "room10", "1", 'say "hi"', "sid1", "sid2", "caf\u00e9", "a/b"]
    for _ in range(3000):
        rooms = rng.choice([None, rng.choice(names), rng.sample(names, rng.randrange(1, 4))])
        skip = rng.sample(["sid1", "sid2"], rng.randrange(3))
        session = ["sid1", *rng.sample(names, rng.randrange(3))]
        assert Reached(session)(json.dumps(rooms), json.dumps(skip)) == addressed_to(
            rooms, skip, session)

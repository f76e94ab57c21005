"""Presence stores (memory, and Redis shared by several processes), the compact
`PRESENCE_EVENTS=delta` mode and the coalesced announcements, the realtime app in this
process."""
import uuid

import pytest
import redis

from realtime_service.sockets import presence
from realtime_service.sockets.presence import MemoryPresence, RedisPresence
from tests.harness import free_port

from ..factories import make_captain, make_user, token_for


def test_memory_presence_counts_connections_per_account():
    store = MemoryPresence()
    assert store.connected("user", "a", "s1") is True
    assert store.connected("user", "a", "s2") is False  # second tab: no change
    assert store.connected("captain", "c", "s3") is True
    assert store.online_ids("user") == {"a"} and store.online_ids("captain") == {"c"}
    assert store.disconnected("user", "a", "s1") is False
    assert store.is_online("a")
    assert store.disconnected("user", "a", "unknown-sid") is False
    assert store.disconnected("user", "a", "s2") is True
    assert not store.is_online("a") and store.is_online("c")
    assert store.online_ids("user") == set()


def test_memory_presence_holds_an_account_until_released_or_back():
    store = MemoryPresence()
    store.connected("user", "a", "s1")
    assert store.disconnected("user", "a", "s1", hold=True) is False
    assert store.is_online("a") and store.online_ids("user") == {"a"}
    assert store.local.count("user", "a") == 0 and store.local.is_held("user", "a")
    assert store.connected("user", "a", "s2") is False  # back: never went offline
    assert store.released("user", "a") is False and store.is_online("a")
    assert store.disconnected("user", "a", "s2", hold=True) is False
    assert store.released("user", "a") is True
    assert not store.is_online("a") and store.online_ids("user") == set()
    assert store.released("user", "a") is False


def test_module_functions_use_the_apps_store(realtime_app):
    with realtime_app.app_context():
        assert presence.connected("captain", "c1", "sid") is True
        assert presence.is_online("c1") and presence.online_ids("captain") == {"c1"}
        assert presence.online_ids("user") == set()
        assert presence.disconnected("captain", "c1", "sid") is True
        assert not presence.is_online("c1")


@pytest.fixture
def stores(redis_url):
    """Two stores on one Redis, as two processes would have them."""
    prefix = f"test:{uuid.uuid4().hex}"
    made = [RedisPresence(redis_url, ttl=5, prefix=prefix) for _ in range(2)]
    yield made
    for store in made:
        store.redis.close()


def test_redis_presence_is_shared_between_processes(stores):
    a, b = stores
    assert a.connected("user", "u1", "a1") is True
    assert b.connected("user", "u1", "b1") is False  # online already, through A
    assert b.connected("captain", "c1", "b2") is True
    for store in stores:
        assert store.online_ids("user") == {"u1"} and store.online_ids("captain") == {"c1"}
        assert store.is_online("u1") and store.is_online("c1") and not store.is_online("x")
    assert a.disconnected("user", "u1", "a1") is False  # still on B
    assert a.is_online("u1")
    assert b.disconnected("user", "u1", "b1") is True
    assert not a.is_online("u1") and a.online_ids("user") == set()


def test_redis_presence_holds_an_account_for_every_process(stores):
    """A hold keeps the account in this process's set (through heartbeats too): online
    for every process, back on another one without a change, offline once released
    and on no other process."""
    a, b = stores
    a.connected("user", "u1", "a1")
    assert a.disconnected("user", "u1", "a1", hold=True) is False
    a.heartbeat()
    assert b.online_ids("user") == {"u1"} and b.is_online("u1")
    assert b.connected("user", "u1", "b1") is False  # back, on B
    assert a.released("user", "u1") is False  # still on B
    assert b.disconnected("user", "u1", "b1", hold=True) is False
    assert a.is_online("u1")
    assert b.released("user", "u1") is True
    assert not a.is_online("u1") and a.online_ids("user") == set()


def test_connect_and_disconnect_survive_a_redis_that_forgot_its_scripts(stores):
    """A restarted Redis has no scripts cached: each call loads its script again."""
    a, b = stores
    a.redis.script_flush()
    assert a.connected("captain", "c9", "a9") is True
    a.redis.script_flush()
    assert b.connected("captain", "c9", "b9") is False
    a.redis.script_flush()
    assert a.disconnected("captain", "c9", "a9") is False
    assert b.disconnected("captain", "c9", "b9") is True
    assert a.online_ids("captain") == set()


def test_heartbeat_rewrites_this_process_and_drops_dead_ones(stores):
    a, b = stores
    a.connected("user", "u1", "a1")
    b.connected("user", "u2", "b1")
    # Someone wiped A's set: the next beat restores it from A's own connections.
    a.redis.delete(a._key(a.proc, "user"))
    assert a.heartbeat() is False
    assert b.online_ids("user") == {"u1", "u2"}
    # B stops beating (crashed): once its last beat is older than the TTL, it is out.
    b.redis.zadd(b.procs_key, {b.proc: b._now() - b.ttl - 1})
    assert a.online_ids("user") == {"u1"} and not a.is_online("u2")
    assert a.heartbeat() is True  # exactly one live process reports the dead one
    assert a.heartbeat() is False
    assert not a.redis.exists(b._key(b.proc, "user"))


def test_sets_expire_with_the_process(stores):
    a, _ = stores
    a.connected("user", "u1", "a1")
    ttl = a.redis.ttl(a._key(a.proc, "user"))
    assert 0 < ttl <= a.ttl + 1


def test_redis_down_is_an_error_not_a_wrong_answer():
    store = RedisPresence(f"redis://127.0.0.1:{free_port()}/0", ttl=5)
    with pytest.raises(redis.RedisError):
        store.online_ids("user")


def test_delta_mode_sends_the_list_once_then_changes(make_realtime_app, app_sockets, db):
    app = make_realtime_app(PRESENCE_EVENTS="delta")
    alice, bob, captain = make_user(db), make_user(db), make_captain(db)
    a_id, b_id = str(alice["_id"]), str(bob["_id"])
    a = app_sockets(app, token_for(alice))
    assert a_id in a.wait_for("getOnlineUsers")
    b = app_sockets(app, token_for(bob))
    assert {a_id, b_id} <= set(b.wait_for("getOnlineUsers"))
    assert a.wait_for("userOnline") == {"userId": b_id}
    cap = app_sockets(app, token_for(captain, "captain"))
    cap.disconnect()
    b.disconnect()
    assert a.wait_for("userOffline") == {"userId": b_id}
    a.settle()
    assert len(a.events["getOnlineUsers"]) == 1
    assert a.events["userOnline"] == [{"userId": b_id}]  # not the captain, not itself
    assert "userOnline" not in b.events


def burst_of_connects(app, connect, db, count):
    """An observer's `getOnlineUsers` lists while `count` users connect back to back."""
    observer_account = make_user(db)
    observer = connect(app, token_for(observer_account))
    observer.wait_for("getOnlineUsers", lambda ids: str(observer_account["_id"]) in ids)
    accounts = [make_user(db) for _ in range(count)]
    everyone = {str(a["_id"]) for a in accounts} | {str(observer_account["_id"])}
    clients = [connect(app, token_for(a)) for a in accounts]
    observer.wait_for("getOnlineUsers", lambda ids: set(ids) == everyone, timeout=10)
    for client in clients:  # each one hears the whole list too
        client.wait_for("getOnlineUsers", lambda ids: set(ids) == everyone, timeout=10)
    return observer.events["getOnlineUsers"][1:]


def test_a_burst_of_connects_is_announced_in_a_few_broadcasts(realtime_app, app_sockets, db):
    lists = burst_of_connects(realtime_app, app_sockets, db, 12)
    assert len(lists) < 12, len(lists)  # PRESENCE_ANNOUNCE_SECONDS coalesced them


def test_with_no_window_every_change_is_announced(make_realtime_app, app_sockets, db):
    app = make_realtime_app(PRESENCE_ANNOUNCE_SECONDS=0)
    lists = burst_of_connects(app, app_sockets, db, 12)
    assert len(lists) >= 12

"""The room index of the client managers (realtime_service/sockets/rooms.py) keeps the
library's state exactly: the same operations on python-socketio's own manager and on
ours leave the same rooms, callbacks and pending lists, and each socket's rooms are
the ones the library's scan finds."""
import itertools
import random
from types import SimpleNamespace

import socketio
from socketio import packet
from socketio.base_manager import BaseManager

from realtime_service.sockets.rooms import RoomIndex
from tests.factories import make_user, token_for

NAMESPACES = ("/", "/calls")


class IndexedManager(RoomIndex, socketio.Manager):
    pass


def bound(manager):
    """The manager, attached to a stand-in server whose socket ids count up (both
    managers of a comparison get the same ids)."""
    ids = itertools.count()
    manager.set_server(SimpleNamespace(eio=SimpleNamespace(generate_id=lambda: f"s{next(ids)}"),
                                       packet_class=packet.Packet))
    return manager


def state(manager):
    callbacks = {sid: sorted(key for key in pending if key) for sid, pending in
                 manager.callbacks.items()}
    return manager.rooms, callbacks, manager.pending_connect, manager.pending_disconnect


def scanned_rooms(manager, sid, namespace):
    """What python-socketio's own `get_rooms` (a scan of every room) finds."""
    return sorted(map(str, BaseManager.get_rooms(manager, sid, namespace)))


def step(manager, rng, operation, connected):
    """One operation, the same on both managers (`rng` is seeded alike)."""
    namespace = rng.choice(NAMESPACES)
    sid = rng.choice(connected[namespace]) if connected[namespace] else None
    room = f"room{rng.randrange(4)}"
    if operation == "connect" or sid is None:
        sid = manager.connect(f"eio{rng.randrange(10**9)}", namespace)
        connected[namespace].append(sid)
    elif operation == "enter":
        manager.enter_room(sid, namespace, room)
    elif operation == "leave":
        manager.leave_room(sid, namespace, rng.choice([room, sid]))
    elif operation == "close":
        manager.close_room(room, namespace)
    elif operation == "callback":
        manager._generate_ack_id(sid, lambda *_: None)
    elif operation == "pre_disconnect":
        manager.pre_disconnect(sid, namespace)
    else:
        manager.disconnect(sid, namespace)
        connected[namespace].remove(sid)


def test_the_index_leaves_the_same_state_as_the_library():
    operations = ["connect"] * 3 + ["enter"] * 4 + ["leave", "close", "callback",
                                                    "pre_disconnect", "disconnect", "disconnect"]
    theirs, ours = bound(socketio.Manager()), bound(IndexedManager())
    pending_connect = ours.pre_connect("eio-pending", "/")  # connected later, or not
    theirs.pre_connect("eio-pending", "/")
    plan = random.Random(7)
    rngs = {id(theirs): random.Random(11), id(ours): random.Random(11)}
    connected = {id(theirs): {ns: [] for ns in NAMESPACES},
                 id(ours): {ns: [] for ns in NAMESPACES}}
    for _ in range(2000):
        operation = plan.choice(operations)
        for manager in (theirs, ours):
            step(manager, rngs[id(manager)], operation, connected[id(manager)])
        assert state(ours) == state(theirs), operation
        for namespace in NAMESPACES:
            for sid in connected[id(ours)][namespace]:
                assert sorted(map(str, ours.get_rooms(sid, namespace))) == scanned_rooms(
                    ours, sid, namespace)
    for manager in (theirs, ours):
        manager.disconnect(pending_connect, "/")
    assert state(ours) == state(theirs)


def test_a_disconnect_leaves_nothing_of_the_socket_in_the_index():
    manager = bound(IndexedManager())
    sid = manager.connect("eio1", "/")
    for room in ("account:1", "ride:2"):
        manager.enter_room(sid, "/", room)
    assert manager.get_rooms(sid, "/") == [sid, "account:1", "ride:2"]
    manager.disconnect(sid, "/")
    assert manager.joined == {} and manager.get_rooms(sid, "/") == []


def test_an_accounts_socket_is_indexed_and_forgotten(realtime_app, db, app_sockets):
    """A connected account's socket is indexed with its rooms, and nothing of it stays
    once it disconnects."""
    manager = realtime_app.extensions["socketio"].server.manager
    client = app_sockets(realtime_app, token_for(make_user(db), "user"))
    sid = client.sid
    assert sid in manager.get_rooms(sid, "/") and len(manager.get_rooms(sid, "/")) > 1
    assert sorted(map(str, manager.get_rooms(sid, "/"))) == scanned_rooms(manager, sid, "/")
    client.disconnect()
    assert ("/", sid) not in manager.joined


def test_both_client_managers_keep_the_index(make_realtime_app, redis_url):
    for settings in ({}, {"REDIS_URL": redis_url}):
        manager = make_realtime_app(**settings).extensions["socketio"].server.manager
        assert isinstance(manager, RoomIndex) and manager.joined == {}

"""Volatile events (the latest matters: typing, captain locations, the online list) are
delivered to the connections there now and never logged for recovery; like every
event, they wait while a connection's packets are held (until its CONNECT answer)."""
from realtime_service.app import VOLATILE_EVENTS
from realtime_service.extensions import socketio
from tests.factories import make_user, token_for


def logged_texts(manager):
    return [logged.packet for logged in manager.log.packets]


def test_the_online_list_reaches_the_connection_but_not_the_recovery_log(
        realtime_app, db, app_sockets):
    assert "getOnlineUsers" in VOLATILE_EVENTS
    manager = realtime_app.extensions["socketio"].server.manager
    user = make_user(db)
    client = app_sockets(realtime_app, token_for(user, "user"))
    assert str(user["_id"]) in client.wait_for("getOnlineUsers")
    assert not any("getOnlineUsers" in text for text in logged_texts(manager))


def test_a_volatile_event_waits_for_a_held_connection_and_is_not_logged(
        realtime_app, db, app_sockets):
    manager = realtime_app.extensions["socketio"].server.manager
    client = app_sockets(realtime_app, token_for(make_user(db), "user"))
    client.settle()
    before = logged_texts(manager)
    manager.hold(client.sid)
    with realtime_app.app_context():
        socketio.emit("typing", {"from": "someone"}, to=client.sid)
    client.settle()
    assert client.events["typing"] == []  # held
    manager.release(client.sid, [], manager.log.position())  # as after a replay
    assert client.wait_for("typing") == {"from": "someone"}
    assert logged_texts(manager) == before

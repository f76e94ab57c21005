"""A captain's location update served without a Flask request context
(realtime_service.sockets.lean): the captain connections recorded and forgotten, the
account's event limit, the answer to an unexpected error, and the compat on-duty write
on the first update of a connection authenticated by the cookie."""
from realtime_service.sockets import lean
from realtime_service.sockets.events import FAILED

from ..factories import make_captain, make_user, token_for
from ..waiting import wait_until

HERE = {"location": {"lat": 12.98, "lng": 77.6}}


def test_captain_connections_are_recorded_and_forgotten(realtime_app, app_sockets, db):
    captain = make_captain(db, vehicle_type="motorcycle")
    captain_socket = app_sockets(realtime_app, token_for(captain, "captain"))
    rider_socket = app_sockets(realtime_app, token_for(make_user(db)))
    reporters = lean.reporters(realtime_app)
    assert list(reporters) == [captain_socket.sid]
    recorded = reporters[captain_socket.sid]
    assert (recorded.captain_id, recorded.vehicle_type, recorded.via_cookie) == (
        captain["_id"], "motorcycle", False)
    assert rider_socket.call("update-location-captain", HERE) == {
        "ok": False, "message": "Only captains can update their location"}
    captain_socket.disconnect()
    wait_until(lambda: reporters == {})


def test_the_event_limit_counts_location_updates(make_realtime_app, app_sockets, db):
    app = make_realtime_app(RATELIMIT_ENABLED=True, SOCKET_EVENT_RATE_LIMIT="2 per minute",
                            LOCATION_BURST=10)
    client = app_sockets(app, token_for(make_captain(db), "captain"))
    assert [client.call("update-location-captain", HERE) for _ in range(2)] == [
        {"ok": True}] * 2
    refused = {"ok": False, "message": "Too many events, try again later"}
    assert client.call("update-location-captain", HERE) == refused
    assert client.events["error"] == [{"message": refused["message"]}]


def test_an_unexpected_error_is_answered_and_logged(realtime_app, app_sockets, db, caplog):
    client = app_sockets(realtime_app, token_for(make_captain(db), "captain"))

    def broken(captain_id, first_over_cookie):
        raise RuntimeError("a hook that fails")

    realtime_app.extensions["socket_hooks"].located.append(broken)
    assert client.call("update-location-captain", HERE) == {"ok": False, "message": FAILED}
    assert client.events["error"] == [{"message": FAILED}]
    assert "socket event captain_location failed" in caplog.text


def test_the_first_update_over_the_cookie_puts_the_captain_on_duty(realtime_app, app_sockets,
                                                                    db):
    captain = make_captain(db, status="inactive")
    cookie = {"Cookie": f"token={token_for(captain, 'captain')}"}
    client = app_sockets(realtime_app, headers=cookie)
    assert lean.reporters(realtime_app)[client.sid].via_cookie is True
    assert client.call("update-location-captain", HERE) == {"ok": True}
    assert db.captains.find_one({"_id": captain["_id"]})["status"] == "active"
    db.captains.update_one({"_id": captain["_id"]}, {"$set": {"status": "inactive"}})
    assert client.call("update-location-captain", HERE) == {"ok": True}
    assert db.captains.find_one({"_id": captain["_id"]})["status"] == "inactive"
    again = app_sockets(realtime_app, headers=cookie)  # a new connection: its first update
    assert again.call("update-location-captain", HERE) == {"ok": True}
    assert db.captains.find_one({"_id": captain["_id"]})["status"] == "active"


def test_a_bearer_captain_is_not_put_on_duty_by_its_updates(realtime_app, app_sockets, db):
    captain = make_captain(db, status="inactive")
    client = app_sockets(realtime_app, token_for(captain, "captain"))
    assert client.call("update-location-captain", HERE) == {"ok": True}
    assert db.captains.find_one({"_id": captain["_id"]})["status"] == "inactive"

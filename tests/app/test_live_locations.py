"""Location ingestion in process (realtime_service.rides.locations): no database command
per update (in memory and with the index in a real Redis), the rider's
`captain-location`, the per-captain rate, positions written to MongoDB in throttled
bulks and on ride changes, staleness and disconnection as dispatch sees them, and the
open rides read back at start-up."""
import random
from datetime import timedelta

import pytest
from pymongo import monitoring

from realtime_service.rides import locations
from realtime_service.rides.captain_index import RedisIndex
from shared.serialize import now

from ..conftest import make_config
from ..factories import auth_header, make_captain, make_user, token_for
from ..rides_support import PICKUP, north_of, ride_body
from ..waiting import wait_until

HERE = {"lat": 12.98, "lng": 77.6}


class Commands(monitoring.CommandListener):
    """The database commands of the clients made after it is registered, while active."""

    def __init__(self):
        self.names, self.active = [], True

    def started(self, event):
        if self.active and event.command_name not in ("hello", "isMaster", "endSessions"):
            self.names.append((event.command_name, event.command.get(event.command_name)))

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


@pytest.fixture
def commands():
    listener = Commands()
    monitoring.register(listener)  # for the database clients made from now on
    yield listener
    listener.active = False


@pytest.fixture
def watched_app(commands, mongo_uri, db):
    """`watched_app(**settings)`: a realtime app with a database client of its own, made
    after `commands` listens."""
    from realtime_service.app import create_app

    def make(**settings):
        own_uri = mongo_uri + ("&" if "?" in mongo_uri else "?") + (
            f"appname=live-locations-{random.getrandbits(32):x}")
        return create_app(make_config(own_uri, **settings))

    return make


@pytest.fixture
def app(make_realtime_app):
    return make_realtime_app(DISPATCH_MAX=3, DISPATCH_RADIUS_KM=3)


@pytest.fixture
def connect(app_sockets):
    return lambda app, account, role="user": app_sockets(app, token_for(account, role))


def request(app, rider):
    return app.test_client().post("/rides", json=ride_body(), headers=auth_header(rider))


def accepted_ride(app, db, connect):
    """A rider and a captain connected to `app`, the captain's ride accepted."""
    rider, captain = make_user(db), make_captain(db, location=north_of(PICKUP, 0.3))
    rider_socket, captain_socket = connect(app, rider), connect(app, captain, "captain")
    ride = request(app, rider).get_json()["ride"]
    answer = app.test_client().post(f"/rides/{ride['_id']}/accept",
                                    headers=auth_header(captain, "captain"))
    assert answer.status_code == 200
    return rider_socket, captain_socket, captain, ride


def move(socket, location=HERE):
    return socket.call("update-location-captain", {"location": location})


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_an_update_costs_no_database_command(store, watched_app, db, connect, commands,
                                             request):
    app = watched_app()
    if store == "redis":
        prefix = f"test:{random.getrandbits(64):x}"
        app.extensions["captain_index"] = RedisIndex(
            request.getfixturevalue("redis_url"), 60.0, app.logger, prefix=prefix)
    rider_socket, captain_socket, _captain, ride = accepted_ride(app, db, connect)
    idle = connect(app, make_captain(db, location=north_of(PICKUP, 1)), "captain")
    commands.names.clear()
    for n in range(3):
        assert move(captain_socket, {"lat": 12.98 + n / 1000, "lng": 77.6}) == {"ok": True}
        assert move(idle, {"lat": 12.9 + n / 1000, "lng": 77.6}) == {"ok": True}
    assert commands.names == []
    for n in range(3):
        rider_socket.wait_for("captain-location", lambda p, n=n: p == {
            "rideId": ride["_id"], "location": {"lat": 12.98 + n / 1000, "lng": 77.6}})


def test_updates_over_the_captains_rate_are_dropped(make_realtime_app, db, connect):
    app = make_realtime_app(LOCATION_MAX_PER_SECOND=0.001, LOCATION_BURST=2)
    captain = make_captain(db)
    socket = connect(app, captain, "captain")
    assert move(socket, {"lat": 12.1, "lng": 77.1}) == {"ok": True}
    assert move(socket, {"lat": 12.2, "lng": 77.2}) == {"ok": True}
    dropped = move(socket, {"lat": 12.3, "lng": 77.3})
    assert dropped == {"ok": False, "message": locations.TOO_FAST}
    assert socket.wait_for("error") == {"message": locations.TOO_FAST}
    index = app.extensions["captain_index"]
    assert index.position(str(captain["_id"]))[:2] == (12.2, 77.2)
    other = connect(app, make_captain(db), "captain")  # a budget per captain
    assert move(other) == {"ok": True}


def test_bad_coordinates_are_refused_and_not_indexed(app, db, connect):
    captain = make_captain(db)
    socket = connect(app, captain, "captain")
    for location in ({"lat": 91, "lng": 0}, {"lat": 0, "lng": 181}, {"lat": "NaN", "lng": 0},
                     {"lat": float("inf"), "lng": 0}, {"lat": None, "lng": 1}):
        ack = move(socket, location)
        assert ack["ok"] is False and ack["message"], location
    assert app.extensions["captain_index"].position(str(captain["_id"])) is None


def test_positions_are_written_once_per_period_in_a_bulk(watched_app, db, connect, commands):
    app = watched_app()
    captains = [make_captain(db, location=north_of(PICKUP, 0.1)) for _ in range(2)]
    sockets = [connect(app, captain, "captain") for captain in captains]
    for n in range(3):
        for socket in sockets:
            assert move(socket, {"lat": 12.9 + n / 100, "lng": 77.6}) == {"ok": True}
    stored = [db.captains.find_one({"_id": c["_id"]}) for c in captains]
    assert [s["location"]["coordinates"] for s in stored] == [
        c["location"]["coordinates"] for c in captains]
    commands.names.clear()
    with app.app_context():
        assert locations.save_positions() == 2  # the latest of each captain, once
        assert locations.save_positions() == 0
    # (The bulk yields to the app's greenlets: the upkeep may read the open rides.)
    assert [c for c in commands.names if c[1] == "captains"] == [("update", "captains")]
    for captain in captains:
        stored = db.captains.find_one({"_id": captain["_id"]})
        assert stored["location"]["coordinates"] == [77.6, 12.92]
        assert stored["locationUpdatedAt"] > captain["locationUpdatedAt"]


def test_the_background_write_runs_every_period(make_realtime_app, db, connect):
    app = make_realtime_app(LOCATION_PERSIST_SECONDS=0.1)
    captain = make_captain(db)
    socket = connect(app, captain, "captain")
    assert move(socket) == {"ok": True}

    def written():
        socket.settle(0.05)  # the app's greenlets run while this one sleeps
        return db.captains.find_one({"_id": captain["_id"]})["location"]
    assert wait_until(written) == {"type": "Point", "coordinates": [77.6, 12.98]}


def test_a_stale_or_disconnected_captain_is_not_offered_rides(app, db, connect):
    silent = make_captain(db, location=north_of(PICKUP, 0.1),
                          locationUpdatedAt=now() - timedelta(minutes=5))
    leaving = make_captain(db, location=north_of(PICKUP, 0.2))
    silent_socket = connect(app, silent, "captain")
    connect(app, leaving, "captain").disconnect()
    rider = make_user(db)
    first = request(app, rider).get_json()
    assert first["dispatchedTo"] == 0
    app.test_client().post(f"/rides/{first['ride']['_id']}/cancel", headers=auth_header(rider))
    lat, lng = north_of(PICKUP, 0.1)
    assert move(silent_socket, {"lat": lat, "lng": lng}) == {"ok": True}
    second = request(app, rider).get_json()
    assert second["dispatchedTo"] == 1
    assert silent_socket.wait_for("new-ride")["_id"] == second["ride"]["_id"]
    assert app.extensions["captain_index"].position(str(leaving["_id"])) is None


def test_open_rides_are_read_back_at_start_up(make_realtime_app, db, connect):
    rider, captain = make_user(db), make_captain(db, location=north_of(PICKUP, 0.3))
    ride_id = db.rides.insert_one({"user": rider["_id"], "captain": captain["_id"],
                                   "status": "ongoing", "dispatched": []}).inserted_id
    app = make_realtime_app()  # a process started while the ride was on
    rider_socket, captain_socket = connect(app, rider), connect(app, captain, "captain")
    index = app.extensions["captain_index"]
    wait_until(lambda: captain_socket.settle(0.05) or not index.rides_need_loading())
    assert move(captain_socket) == {"ok": True}
    assert rider_socket.wait_for("captain-location") == {"rideId": str(ride_id),
                                                          "location": HERE}

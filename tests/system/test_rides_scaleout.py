"""Rides across two realtime processes sharing a real Redis: dispatch sees captains
connected to the other process (the live captain index in Redis), every ride push and
location crosses over, and so does each captain's open ride."""

import pytest
import requests

from devserver.processes import stop_all

from ..conftest import prepare, serve_all
from ..factories import auth_header, make_captain, make_user, token_for
from ..rides_support import PICKUP, north_of, ride_body
from ..sockets import RecordingClient, disconnect_all
from ..waiting import holds_for


@pytest.fixture(scope="module")
def two_processes(mongo_uri, redis_url, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scaleout")
    services = serve_all([prepare("realtime_service", mongo_uri, tmp, REDIS_URL=redis_url)
                          for _ in range(2)])
    yield [service.url for service in services]
    stop_all(services)


def test_ride_flow_across_processes(two_processes, db):
    url_a, url_b = two_processes
    rider, captain = make_user(db), make_captain(db, location=north_of(PICKUP, 0.5))
    rider_socket = RecordingClient().connect(url_a, token_for(rider))
    captain_socket = RecordingClient().connect(url_b, token_for(captain, "captain"))
    try:
        # Requested on A; the captain is connected to B only.
        response = requests.post(f"{url_a}/rides", json=ride_body(),
                                 headers=auth_header(rider), timeout=10)
        assert response.status_code == 201 and response.json()["dispatchedTo"] == 1
        ride = response.json()["ride"]
        assert captain_socket.wait_for("new-ride")["_id"] == ride["_id"]
        # Accepted on B; the rider on A is told.
        accepted = requests.post(f"{url_b}/rides/{ride['_id']}/accept",
                                 headers=auth_header(captain, "captain"), timeout=10)
        assert accepted.status_code == 200
        assert rider_socket.wait_for("ride-confirmed")["captain"]["_id"] == str(captain["_id"])
        # The captain's moves on B reach the rider on A.
        ack = captain_socket.client.call("update-location-captain",
                                         {"location": {"lat": 12.975, "lng": 77.595}}, timeout=5)
        assert ack == {"ok": True}
        assert rider_socket.wait_for("captain-location") == {
            "rideId": ride["_id"], "location": {"lat": 12.975, "lng": 77.595}}
        cancelled = requests.post(f"{url_a}/rides/{ride['_id']}/cancel",
                                headers=auth_header(rider), timeout=10)
        assert cancelled.status_code == 200
        assert captain_socket.wait_for("ride-cancelled")["_id"] == ride["_id"]
        # Cancelled on A: B's next update goes to no one (the shared captain -> ride map).
        move(captain_socket, 12.976)
        assert holds_for(lambda: len(rider_socket.events["captain-location"]) == 1, 0.5)
        # A ride accepted on A: the captain's update on B reaches its rider.
        again = requests.post(f"{url_a}/rides", json=ride_body(), headers=auth_header(rider),
                              timeout=10).json()["ride"]
        captain_socket.wait_for("new-ride", lambda r: r["_id"] == again["_id"])
        assert requests.post(f"{url_a}/rides/{again['_id']}/accept", timeout=10,
                             headers=auth_header(captain, "captain")).status_code == 200
        move(captain_socket, 12.977)
        assert rider_socket.wait_for("captain-location", lambda p: p["rideId"] == again[
            "_id"])["location"] == {"lat": 12.977, "lng": 77.595}
    finally:
        disconnect_all([rider_socket, captain_socket])


def move(captain_socket, lat):
    ack = captain_socket.client.call("update-location-captain",
                                     {"location": {"lat": lat, "lng": 77.595}}, timeout=5)
    assert ack == {"ok": True}

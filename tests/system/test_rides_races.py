"""Races on the ride state machine, with concurrent HTTP requests against a served
realtime process (a round offers a ride to up to 60 captains) and real Socket.IO
clients."""
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from bson import ObjectId

from ..conftest import serve
from ..factories import auth_header, make_captain, make_user, token_for
from ..rides_support import PICKUP, north_of, ride_body
from ..sockets import RecordingClient, disconnect_all, flush


@pytest.fixture(scope="module")
def service(mongo_uri, tmp_path_factory):
    # Fifty-one sockets from one address: past the default per-address cap.
    served = serve("realtime_service", mongo_uri, tmp_path_factory.mktemp("races"),
                   DISPATCH_BATCH=60, DISPATCH_MAX=60, SOCKET_MAX_PER_ADDRESS=0)
    yield served
    served.stop()


@pytest.fixture
def url(service, db):
    return service.url


@pytest.fixture
def sockets(url):
    opened = []

    def connect_all(accounts, role):
        def open_one(account):
            return RecordingClient().connect(url, token_for(account, role), wait_timeout=10)

        with ThreadPoolExecutor(max_workers=10) as pool:
            clients = list(pool.map(open_one, accounts))
        opened.extend(clients)
        return clients

    yield connect_all
    disconnect_all(opened)


def all_at_once(calls):
    """Run the zero-argument `calls` in threads released together; their results."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def post(url, path, account, role="user", json=None):
    return requests.post(f"{url}{path}", json=json, headers=auth_header(account, role),
                         timeout=30)


def test_fifty_captains_race_for_one_ride(url, db, sockets):
    rider = make_user(db)
    captains = [make_captain(db, location=north_of(PICKUP, 0.02 * (i + 1))) for i in range(50)]
    captain_sockets = sockets(captains, "captain")
    (rider_socket,) = sockets([rider], "user")
    response = post(url, "/rides", rider, json=ride_body())
    assert response.json()["dispatchedTo"] == 50
    ride_id = response.json()["ride"]["_id"]
    for client in captain_sockets:
        client.wait_for("new-ride")

    results = all_at_once([
        lambda c=c: post(url, f"/rides/{ride_id}/accept", c, "captain") for c in captains])

    assert Counter(r.status_code for r in results) == {200: 1, 409: 49}
    winner_index = next(i for i, r in enumerate(results) if r.status_code == 200)
    winner = captains[winner_index]
    stored = db.rides.find_one()
    assert stored["status"] == "accepted" and stored["captain"] == winner["_id"]
    confirmed = rider_socket.wait_for("ride-confirmed")
    assert confirmed["captain"]["_id"] == str(winner["_id"])
    for i, client in enumerate(captain_sockets):
        if i != winner_index:
            assert client.wait_for("ride-taken") == {"rideId": ride_id}
    flush(captain_sockets[winner_index])
    assert "ride-taken" not in captain_sockets[winner_index].events
    assert db.activities.count_documents({"action": "ride-accepted"}) == 2


def test_a_captain_wins_at_most_one_of_several_rides(url, db, sockets):
    captain = make_captain(db, location=north_of(PICKUP, 0.5))
    sockets([captain], "captain")
    riders = [make_user(db) for _ in range(6)]
    ride_ids = [post(url, "/rides", r, json=ride_body()).json()["ride"]["_id"] for r in riders]
    # A captain holds one offer at a time; give them a live offer of every ride, as
    # rounds racing in several processes could.
    offer = db.rides.find_one({"_id": ObjectId(ride_ids[0])})["dispatch"]
    db.rides.update_many({}, {"$set": {"status": "pending", "dispatch": offer,
                                       "dispatched": [captain["_id"]]},
                              "$unset": {"expiredAt": ""}})

    results = all_at_once([
        lambda rid=rid: post(url, f"/rides/{rid}/accept", captain, "captain")
        for rid in ride_ids])

    assert Counter(r.status_code for r in results) == {200: 1, 409: 5}
    assert db.rides.count_documents({"captain": captain["_id"]}) == 1


def test_a_rider_gets_one_open_ride_under_concurrent_requests(url, db):
    rider = make_user(db)
    results = all_at_once([lambda: post(url, "/rides", rider, json=ride_body())] * 10)
    assert Counter(r.status_code for r in results) == {201: 1, 409: 9}
    assert db.rides.count_documents({"user": rider["_id"]}) == 1


def test_concurrent_wrong_otps_count_five_tries_exactly(url, db, sockets):
    rider, captain = make_user(db), make_captain(db, location=north_of(PICKUP, 0.5))
    sockets([captain], "captain")
    ride = post(url, "/rides", rider, json=ride_body()).json()["ride"]
    assert post(url, f"/rides/{ride['_id']}/accept", captain, "captain").status_code == 200
    wrong = f"{(int(ride['otp']) + 1) % 10**6:06d}"

    results = all_at_once([
        lambda: post(url, f"/rides/{ride['_id']}/start", captain, "captain",
                     json={"otp": wrong})] * 12)

    assert Counter(r.status_code for r in results) == {400: 5, 429: 7}
    assert db.rides.find_one()["otpFailures"] == 5
    right = post(url, f"/rides/{ride['_id']}/start", captain, "captain", json={"otp": ride["otp"]})
    assert right.status_code == 429

"""Offer rounds in process: a ride offered to DISPATCH_BATCH captains at a time, declines
and expiries moving it on, the widening radius, the search waiting for captains when
none is left, its end at DISPATCH_TIMEOUT_SECONDS, accept only with a live offer, one
winner, and a round left by one process resumed by another's sweeper.
Captains connect through Flask-SocketIO's test client (presence); waiting for an event
lets the app's sweeper run."""
import threading
from collections import Counter

import pytest
from bson import ObjectId

from realtime_service.rides import rounds

from ..factories import auth_header, make_captain, make_user, token_for
from ..rides_support import PICKUP, east_of, north_of, online_by_hand, ride_body
from ..sockets import flush

# Rounds move on within tests' waits: short offers, a quick sweeper.
QUICK = {"OFFER_SECONDS": 1, "DISPATCH_SWEEP_SECONDS": 0.1}


@pytest.fixture
def setup(make_realtime_app, app_sockets):
    """`setup(**settings)`: (app, http client, connect(account, role="user"))."""

    def build(**settings):
        app = make_realtime_app(**settings)
        return app, app.test_client(), lambda account, role="user": app_sockets(
            app, token_for(account, role))

    return build


def post(http, path, account, role="user", json=None):
    return http.post(path, json=json, headers=auth_header(account, role))


def captains_at(db, connect, *kms):
    """Connected captains `kms` north of the pickup, and their sockets."""
    captains = [make_captain(db, location=north_of(PICKUP, km)) for km in kms]
    return captains, [connect(captain, "captain") for captain in captains]


def request(http, db, connect):
    """A rider (connected) requests a ride: (rider socket, ride id, response body)."""
    rider = make_user(db)
    rider_socket = connect(rider)
    rider_socket.account = rider
    response = post(http, "/rides", rider, json=ride_body())
    assert response.status_code == 201
    body = response.get_json()
    return rider_socket, body["ride"]["_id"], body


def stored(db, ride_id):
    return db.rides.find_one({"_id": ObjectId(ride_id)})


def test_the_nearest_batch_first_with_an_offer(setup, db):
    app, http, connect = setup()
    captains, sockets = captains_at(db, connect, 1.5, 0.2, 1.0, 0.5)
    rider_socket, ride_id, body = request(http, db, connect)
    assert body["dispatchedTo"] == 3 and body["ride"]["status"] == "pending"
    assert "offer" not in body["ride"]
    for socket in (sockets[1], sockets[3], sockets[2]):
        new_ride = socket.wait_for("new-ride")
        assert new_ride["_id"] == ride_id and new_ride["offer"]["expiresAt"].endswith("Z")
        assert set(new_ride["offer"]) == {"id", "expiresAt"} and "otp" not in new_ride
    assert rider_socket.wait_for("ride-searching") == {"rideId": ride_id, "round": 1,
                                                       "offered": 3}
    flush(sockets[0])
    assert "new-ride" not in sockets[0].events
    assert stored(db, ride_id)["dispatched"] == [c["_id"] for c in
                                                 (captains[1], captains[3], captains[2])]
    # The rider's copy shows no offer state.
    mine = http.get(f"/rides/{ride_id}", headers=auth_header(rider_socket.account))
    assert not {"offer", "dispatch", "dispatched"} & set(mine.get_json()["ride"])


def test_a_captains_client_acknowledges_its_offer(setup, db):
    """`offer-received` records that the offer reached the captain's client (told apart
    from one never answered); only the captain holding that live offer may say so."""
    app, http, connect = setup(DISPATCH_BATCH=1)
    captains, sockets = captains_at(db, connect, 0.2, 0.6)
    rider_socket, ride_id, _ = request(http, db, connect)
    offer = sockets[0].wait_for("new-ride")["offer"]
    assert offer["id"] == f"{ride_id}.1"
    assert sockets[0].call("offer-received", {"offerId": offer["id"]}) == {"ok": True}
    received = stored(db, ride_id)["dispatch"]["received"]
    assert set(received) == {str(captains[0]["_id"])}
    refused = {"ok": False, "message": "No live offer of this ride to you"}
    assert sockets[1].call("offer-received", {"offerId": offer["id"]}) == refused
    assert sockets[0].call("offer-received", {"offerId": f"{ride_id}.2"}) == refused
    assert sockets[0].call("offer-received", {"offerId": "garbage"}) == refused
    assert sockets[0].call("offer-received", {"nothing": 1})["ok"] is False
    assert rider_socket.call("offer-received", {"offerId": offer["id"]}) == {
        "ok": False, "message": "Only captains receive offers"}
    assert set(stored(db, ride_id)["dispatch"]["received"]) == {str(captains[0]["_id"])}


def test_decline_moves_on_at_once(setup, db):
    app, http, connect = setup(DISPATCH_BATCH=1)
    captains, sockets = captains_at(db, connect, 0.2, 0.6)
    stranger = make_captain(db, location=north_of(PICKUP, 9))
    rider_socket, ride_id, _ = request(http, db, connect)
    url = f"/rides/{ride_id}/decline"
    assert post(http, url, stranger, "captain").status_code == 404
    assert post(http, url, make_user(db)).status_code == 403
    assert post(http, url, captains[1], "captain").status_code == 404  # not offered yet
    response = post(http, url, captains[0], "captain")
    assert response.status_code == 200 and response.get_json() == {"rideId": ride_id}
    assert sockets[0].wait_for("ride-offer-expired") == {"rideId": ride_id}
    assert sockets[1].wait_for("new-ride")["_id"] == ride_id
    assert rider_socket.wait_for("ride-searching", lambda p: p["round"] == 2) == {
        "rideId": ride_id, "round": 2, "offered": 1}
    again = post(http, url, captains[0], "captain")
    assert again.status_code == 409 and again.get_json() == {"message": "You declined this ride"}
    refused = post(http, f"/rides/{ride_id}/accept", captains[0], "captain")
    assert refused.status_code == 409
    assert post(http, f"/rides/{ride_id}/accept", captains[1], "captain").status_code == 200
    assert post(http, url, captains[1], "captain").status_code == 409


def test_an_expired_round_moves_on_after_offer_seconds(setup, db):
    app, http, connect = setup(DISPATCH_BATCH=1, **QUICK)
    captains, sockets = captains_at(db, connect, 0.2, 0.6)
    rider_socket, ride_id, _ = request(http, db, connect)
    sockets[0].wait_for("new-ride")
    assert sockets[1].wait_for("new-ride")["_id"] == ride_id  # the sweeper moved on
    assert sockets[0].wait_for("ride-offer-expired") == {"rideId": ride_id}
    late = post(http, f"/rides/{ride_id}/accept", captains[0], "captain")
    assert late.status_code == 409
    assert late.get_json() == {"message": "Your offer of this ride has expired"}
    assert post(http, f"/rides/{ride_id}/decline", captains[0], "captain").status_code == 409


def test_the_search_widens_to_the_max_radius(setup, db):
    app, http, connect = setup(DISPATCH_RADIUS_KM=3, DISPATCH_RADIUS_KM_MAX=6,
                               DISPATCH_TIMEOUT_SECONDS=2, **QUICK)
    near = make_captain(db, location=north_of(PICKUP, 1))
    wide = make_captain(db, location=east_of(PICKUP, 4.5))
    too_far = make_captain(db, location=east_of(PICKUP, 7))
    near_socket, wide_socket, far_socket = (connect(c, "captain") for c in (near, wide, too_far))
    rider_socket, ride_id, body = request(http, db, connect)
    assert body["dispatchedTo"] == 1  # only the captain within 3 km
    assert post(http, f"/rides/{ride_id}/decline", near, "captain").status_code == 200
    assert wide_socket.wait_for("new-ride")["_id"] == ride_id
    assert stored(db, ride_id)["dispatch"]["radiusKm"] == 6
    assert post(http, f"/rides/{ride_id}/decline", wide, "captain").status_code == 200
    rider_socket.wait_for("ride-expired")  # the waits found no one within 6 km
    flush(far_socket)
    assert "new-ride" not in far_socket.events


def test_the_ride_expires_at_the_timeout_and_a_new_request_is_allowed(setup, db):
    app, http, connect = setup(DISPATCH_BATCH=1, DISPATCH_TIMEOUT_SECONDS=4, **QUICK)
    captains, sockets = captains_at(db, connect, 0.2, 0.6)
    rider = make_user(db)
    rider_socket = connect(rider)
    ride_id = post(http, "/rides", rider, json=ride_body()).get_json()["ride"]["_id"]
    # Each captain's round expires in turn, then the search waits (no one is offered
    # the ride twice) until the timeout.
    assert sockets[1].wait_for("ride-offer-expired") == {"rideId": ride_id}
    assert stored(db, ride_id)["status"] == "pending"
    assert rider_socket.wait_for("ride-expired") == {"rideId": ride_id}
    ride = stored(db, ride_id)
    assert ride["status"] == "expired" and ride["expiredAt"]
    assert ride["dispatched"] == [captains[0]["_id"], captains[1]["_id"]]
    for socket in sockets:
        flush(socket)
        assert [p["_id"] for p in socket.events["new-ride"]] == [ride_id]
        assert len(socket.events["ride-offer-expired"]) == 1
    assert [p["round"] for p in rider_socket.events["ride-searching"]] == [1, 2]
    assert post(http, f"/rides/{ride_id}/cancel", rider).status_code == 409
    history = http.get("/rides?status=expired", headers=auth_header(rider)).get_json()
    assert history["rides"][0]["status"] == "expired"
    again = post(http, "/rides", rider, json=ride_body())
    assert again.status_code == 201 and again.get_json()["dispatchedTo"] == 1
    assert db.activities.count_documents({"action": "ride-expired"}) == 1


def test_with_no_captain_around_the_search_waits_for_one(setup, db):
    app, http, connect = setup(**QUICK)
    rider_socket, ride_id, body = request(http, db, connect)
    assert body["dispatchedTo"] == 0 and body["ride"]["status"] == "pending"
    # A captain goes on duty near the pickup a little later: the next look offers it.
    captain = make_captain(db, location=north_of(PICKUP, 0.5))
    captain_socket = connect(captain, "captain")
    offer = captain_socket.wait_for("new-ride")
    assert offer["_id"] == ride_id and offer["offer"]["expiresAt"]
    assert rider_socket.wait_for("ride-searching") == {"rideId": ride_id, "round": 1,
                                                       "offered": 1}
    accepted = post(http, f"/rides/{ride_id}/accept", captain, "captain")
    assert accepted.status_code == 200
    assert rider_socket.wait_for("ride-confirmed")["_id"] == ride_id


def test_after_everyone_declined_the_search_waits_and_offers_a_newcomer(setup, db):
    app, http, connect = setup(DISPATCH_BATCH=2, **QUICK)
    captains, sockets = captains_at(db, connect, 0.2, 0.6)
    rider_socket, ride_id, body = request(http, db, connect)
    assert body["dispatchedTo"] == 2
    for captain in captains:
        assert post(http, f"/rides/{ride_id}/decline", captain, "captain").status_code == 200
    for socket in sockets:
        assert socket.wait_for("ride-offer-expired") == {"rideId": ride_id}
    waiting = stored(db, ride_id)
    assert waiting["status"] == "pending" and waiting["dispatch"]["captains"] == []
    assert waiting["dispatch"]["round"] == 1
    newcomer = make_captain(db, location=north_of(PICKUP, 2))
    newcomer_socket = connect(newcomer, "captain")
    assert newcomer_socket.wait_for("new-ride")["_id"] == ride_id
    assert rider_socket.wait_for("ride-searching", lambda p: p["round"] == 2) == {
        "rideId": ride_id, "round": 2, "offered": 1}
    for socket in sockets:  # the decliners were not offered it again
        flush(socket)
        assert len(socket.events["new-ride"]) == 1
    assert [p["round"] for p in rider_socket.events["ride-searching"]] == [1, 2]
    ride = stored(db, ride_id)
    assert ride["dispatched"] == [c["_id"] for c in captains] + [newcomer["_id"]]


def test_a_waiting_search_ends_at_the_timeout(setup, db):
    app, http, connect = setup(DISPATCH_TIMEOUT_SECONDS=1, **QUICK)
    far = make_captain(db, location=north_of(PICKUP, 8))
    far_socket = connect(far, "captain")
    rider_socket, ride_id, body = request(http, db, connect)
    assert body["dispatchedTo"] == 0
    assert rider_socket.wait_for("ride-expired") == {"rideId": ride_id}
    assert stored(db, ride_id)["status"] == "expired"
    assert "ride-searching" not in rider_socket.events
    flush(far_socket)
    assert not {"new-ride", "ride-offer-expired"} & set(far_socket.events)
    refused = post(http, f"/rides/{ride_id}/decline", far, "captain")
    assert refused.status_code == 404


def test_the_search_ends_after_dispatch_timeout(setup, db):
    app, http, connect = setup(OFFER_SECONDS=30, DISPATCH_TIMEOUT_SECONDS=1,
                               DISPATCH_SWEEP_SECONDS=0.1)
    captains, sockets = captains_at(db, connect, 0.2, 0.6, 0.8, 1.0)
    rider_socket, ride_id, _ = request(http, db, connect)
    assert rider_socket.wait_for("ride-expired") == {"rideId": ride_id}
    for socket in sockets[:3]:
        socket.wait_for("ride-offer-expired")
    flush(sockets[3])
    assert "new-ride" not in sockets[3].events
    assert stored(db, ride_id)["status"] == "expired"


def test_accept_only_with_a_live_offer(setup, db):
    app, http, connect = setup(DISPATCH_BATCH=1)
    captains, sockets = captains_at(db, connect, 0.2, 0.6)
    never = make_captain(db, location=north_of(PICKUP, 0.1))  # not connected
    rider_socket, ride_id, _ = request(http, db, connect)
    url = f"/rides/{ride_id}/accept"
    assert post(http, url, never, "captain").status_code == 404
    assert post(http, url, captains[1], "captain").status_code == 404  # not offered yet
    # An offer past its expiry cannot be accepted, even before a sweeper moves on.
    db.rides.update_one({"_id": ObjectId(ride_id)},
                        {"$set": {"dispatch.expiresAt": stored(db, ride_id)["createdAt"]}})
    expired = post(http, url, captains[0], "captain")
    assert expired.status_code == 409
    assert stored(db, ride_id)["status"] == "pending"


def test_exactly_one_winner_when_the_offered_captains_accept_at_once(setup, db):
    app, http, connect = setup(DISPATCH_BATCH=3)
    captains, sockets = captains_at(db, connect, 0.2, 0.4, 0.6)
    rider_socket, ride_id, _ = request(http, db, connect)
    barrier, results = threading.Barrier(3), {}

    def accept(captain):
        client = app.test_client()
        barrier.wait()
        results[captain["_id"]] = post(client, f"/rides/{ride_id}/accept", captain,
                                       "captain").status_code

    threads = [threading.Thread(target=accept, args=(c,)) for c in captains]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Counter(results.values()) == {200: 1, 409: 2}
    winner = next(captain_id for captain_id, status in results.items() if status == 200)
    assert stored(db, ride_id)["captain"] == winner
    for captain, socket in zip(captains, sockets, strict=True):
        if captain["_id"] != winner:
            assert socket.wait_for("ride-taken") == {"rideId": ride_id}


def test_a_round_left_by_one_process_is_resumed_by_another(setup, db):
    first_app, first_http, _ = setup(DISPATCH_BATCH=1, **QUICK)
    gone = make_captain(db, location=north_of(PICKUP, 0.2))
    online_by_hand(first_app, gone, "sid-gone")
    rider = make_user(db)
    ride_id = post(first_http, "/rides", rider, json=ride_body()).get_json()["ride"]["_id"]
    assert stored(db, ride_id)["dispatch"]["round"] == 1
    first_app.extensions["dispatch_sweeper"].kill()  # the first process is gone

    second_app, second_http, connect = setup(DISPATCH_BATCH=1, **QUICK)
    captain = make_captain(db, location=north_of(PICKUP, 0.6))
    captain_socket, rider_socket = connect(captain, "captain"), connect(rider)
    assert captain_socket.wait_for("new-ride")["_id"] == ride_id
    assert rider_socket.wait_for("ride-searching")["round"] == 2
    ride = stored(db, ride_id)
    assert ride["dispatch"]["round"] == 2 and ride["dispatched"] == [gone["_id"],
                                                                    captain["_id"]]
    assert post(second_http, f"/rides/{ride_id}/accept", captain, "captain").status_code == 200


def test_of_two_processes_moving_the_same_round_one_wins(setup, db):
    app, http, connect = setup(DISPATCH_BATCH=1, DISPATCH_SWEEP_SECONDS=0)
    captains, sockets = captains_at(db, connect, 0.2, 0.6, 1.0)
    rider_socket, ride_id, _ = request(http, db, connect)
    read_by_both = stored(db, ride_id)  # each process read the round before moving it
    with app.app_context():
        assert rounds.advance(read_by_both)["dispatch"]["round"] == 2
        assert rounds.advance(read_by_both) is None
        assert rounds.expire(read_by_both) is None
    ride = stored(db, ride_id)
    assert ride["status"] == "pending" and ride["dispatch"]["round"] == 2
    assert ride["dispatched"] == [captains[0]["_id"], captains[1]["_id"]]
    for socket in sockets:
        flush(socket)
    assert [len(s.events["new-ride"]) for s in sockets] == [1, 1, 0]
    assert len(sockets[0].events["ride-offer-expired"]) == 1


def test_of_two_processes_moving_the_same_wait_one_wins(setup, db):
    app, http, connect = setup(DISPATCH_BATCH=1, DISPATCH_SWEEP_SECONDS=0)
    captains, sockets = captains_at(db, connect, 0.2)
    rider_socket, ride_id, _ = request(http, db, connect)
    assert post(http, f"/rides/{ride_id}/decline", captains[0], "captain").status_code == 200
    read_by_both = stored(db, ride_id)  # waiting: no one is left
    assert read_by_both["dispatch"]["captains"] == []
    with app.app_context():
        moved = rounds.advance(read_by_both)
        assert moved["dispatch"]["step"] == read_by_both["dispatch"]["step"] + 1
        assert rounds.advance(read_by_both) is None
        assert rounds.expire(read_by_both) is None
        # A ride stored before steps were counted moves on too.
        db.rides.update_one({"_id": ObjectId(ride_id)}, {"$unset": {"dispatch.step": ""}})
        assert rounds.advance(stored(db, ride_id))["dispatch"]["step"] == 1
    ride = stored(db, ride_id)
    assert ride["status"] == "pending" and ride["dispatch"]["round"] == 1
    for socket in (sockets[0], rider_socket):
        flush(socket)
    assert len(sockets[0].events["ride-offer-expired"]) == 1
    assert len(rider_socket.events["ride-searching"]) == 1

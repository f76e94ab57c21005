"""The /rides routes in-process: validation, the state machine, OTP, authorization,
history and activity. Socket pushes and races run against served processes in
test_rides_sockets.py and test_rides_races.py."""
import pytest
from bson import ObjectId

from realtime_service.rides.fares import estimate_for

from ..factories import auth_header, make_captain, make_user
from ..rides_support import DESTINATION, PICKUP, north_of, online_by_hand, ride_body


@pytest.fixture
def client(realtime_client):
    return realtime_client


def online(app, *captains):
    """Mark captains as connected (presence and the live captain index)."""
    for captain in captains:
        online_by_hand(app, captain)


def request_ride(client, user, **kwargs):
    return client.post("/rides", json=ride_body(**kwargs), headers=auth_header(user))


@pytest.fixture
def accepted(realtime_app, client, db):
    """A ride accepted by a captain: (user, captain, ride json)."""
    user, captain = make_user(db), make_captain(db, location=north_of(PICKUP, 1))
    online(realtime_app, captain)
    ride = request_ride(client, user).get_json()["ride"]
    response = client.post(f"/rides/{ride['_id']}/accept",
                           headers=auth_header(captain, "captain"))
    assert response.status_code == 200
    return user, captain, {**ride, **response.get_json()["ride"], "otp": ride["otp"]}


def start(client, captain, ride_id, otp):
    return client.post(f"/rides/{ride_id}/start", json={"otp": otp},
                       headers=auth_header(captain, "captain"))


def wrong(otp):
    return f"{(int(otp) + 1) % 10**6:06d}"


def test_request_validation(client, db):
    user = make_user(db)
    bad = {"pickup": {"lat": 91, "lng": 200}, "destination": {"lat": "x"},
           "vehicleType": "spaceship"}
    response = client.post("/rides", json=bad, headers=auth_header(user))
    assert response.status_code == 400
    params = {error["param"] for error in response.get_json()["errors"]}
    assert params == {"pickup.lat", "pickup.lng", "destination.lat", "destination.lng",
                      "vehicleType"}
    assert client.post("/rides", json={}, headers=auth_header(user)).status_code == 400
    assert client.post("/rides", data="x", headers=auth_header(user)).status_code == 415
    assert client.post("/rides", json=ride_body()).status_code == 401
    captain = make_captain(db)
    assert client.post("/rides", json=ride_body(),
                       headers=auth_header(captain, "captain")).status_code == 403


def test_request_creates_pending_ride_with_fare_and_otp(realtime_app, client, db):
    user = make_user(db)
    online(realtime_app, make_captain(db, vehicle_type="auto", location=north_of(PICKUP, 1)))
    response = request_ride(client, user, vehicle_type="auto")
    assert response.status_code == 201
    body = response.get_json()
    ride = body["ride"]
    assert body["dispatchedTo"] == 1
    assert ride["status"] == "pending" and ride["captain"] is None
    assert ride["user"]["_id"] == str(user["_id"])
    assert "email" not in ride["user"] and "password" not in ride["user"]
    assert ride["otp"].isdigit() and len(ride["otp"]) == 6
    assert "otpFailures" not in ride and "dispatched" not in ride
    expected = estimate_for(PICKUP, DESTINATION, "auto", client.application.config["FARES"],
                            client.application.config["ROAD_FACTOR"])
    assert (ride["fare"], ride["distanceKm"], ride["durationMin"]) == (
        expected["fare"], expected["distanceKm"], expected["durationMin"])
    assert ride["pickup"] == PICKUP and ride["createdAt"].endswith("Z")
    # `ltd` is accepted for `lat`.
    other = make_user(db)
    compat = ride_body(pickup={"ltd": 12.9, "lng": 77.6}, destination=DESTINATION)
    response = client.post("/rides", json=compat, headers=auth_header(other))
    assert response.status_code == 201
    assert response.get_json()["ride"]["pickup"]["lat"] == 12.9


def test_a_ride_no_captain_can_take_yet_stays_pending_searching(client, db):
    user = make_user(db)
    response = request_ride(client, user)
    assert response.status_code == 201
    body = response.get_json()
    assert body["dispatchedTo"] == 0
    assert body["ride"]["status"] == "pending" and "expiredAt" not in body["ride"]
    stored = db.rides.find_one({"_id": ObjectId(body["ride"]["_id"])})
    assert stored["dispatch"]["round"] == 0 and stored["dispatch"]["captains"] == []
    assert stored["dispatch"]["expiresAt"] > stored["createdAt"]  # looks again later
    assert request_ride(client, user).status_code == 409  # still the open ride
    cancel = client.post(f"/rides/{body['ride']['_id']}/cancel", headers=auth_header(user))
    assert cancel.status_code == 200
    assert request_ride(client, user).status_code == 201


def test_one_open_ride_per_user(realtime_app, client, db):
    online(realtime_app, make_captain(db, location=north_of(PICKUP, 1)))
    user = make_user(db)
    first = request_ride(client, user).get_json()["ride"]
    again = request_ride(client, user)
    assert again.status_code == 409
    assert again.get_json() == {"message": "You already have an open ride"}
    client.post(f"/rides/{first['_id']}/cancel", headers=auth_header(user))
    assert request_ride(client, user).status_code == 201


def test_dispatch_filters_and_orders_in_process(realtime_app, client, db):
    near = make_captain(db, location=north_of(PICKUP, 0.5))
    nearer = make_captain(db, location=north_of(PICKUP, 0.2))
    far = make_captain(db, location=north_of(PICKUP, 3.5))
    inactive = make_captain(db, status="inactive", location=north_of(PICKUP, 0.1))
    moto = make_captain(db, vehicle_type="motorcycle", location=north_of(PICKUP, 0.1))
    nowhere = make_captain(db)  # no location yet
    offline = make_captain(db, location=north_of(PICKUP, 0.1))
    online(realtime_app, near, nearer, far, inactive, moto, nowhere)
    body = request_ride(client, make_user(db)).get_json()
    assert body["dispatchedTo"] == 2
    stored = db.rides.find_one({"_id": ObjectId(body["ride"]["_id"])})
    assert stored["dispatched"] == [nearer["_id"], near["_id"]]
    assert offline["_id"] not in stored["dispatched"]


def test_parties_only(accepted, client, db):
    user, captain, ride = accepted
    url = f"/rides/{ride['_id']}"
    mine = client.get(url, headers=auth_header(user)).get_json()["ride"]
    assert mine["otp"] == ride["otp"]
    assert mine["captain"]["_id"] == str(captain["_id"])
    assert mine["captain"]["vehicle"]["plate"] == captain["vehicle"]["plate"]
    assert "email" not in mine["captain"] and "location" not in mine["captain"]
    theirs = client.get(url, headers=auth_header(captain, "captain"))
    assert theirs.status_code == 200 and "otp" not in theirs.get_json()["ride"]
    stranger, other_captain = make_user(db), make_captain(db)
    assert client.get(url, headers=auth_header(stranger)).status_code == 404
    assert client.get(url, headers=auth_header(other_captain, "captain")).status_code == 404
    assert client.get(url).status_code == 401
    assert client.get("/rides/not-an-id", headers=auth_header(user)).status_code == 400
    assert client.get("/rides/" + "0" * 24, headers=auth_header(user)).status_code == 404


def test_accept_rules(realtime_app, client, db):
    user = make_user(db)
    first, second = (make_captain(db, location=north_of(PICKUP, km)) for km in (0.3, 0.6))
    bystander = make_captain(db, location=north_of(PICKUP, 0.1))  # not online
    online(realtime_app, first, second)
    ride = request_ride(client, user).get_json()["ride"]
    url = f"/rides/{ride['_id']}/accept"
    assert client.post(url, headers=auth_header(bystander, "captain")).status_code == 404
    assert client.post(url, headers=auth_header(user)).status_code == 403
    assert client.post("/rides/xyz/accept", headers=auth_header(first, "captain")
                       ).status_code == 400
    db.captains.update_one({"_id": first["_id"]}, {"$set": {"status": "inactive"}})
    assert client.post(url, headers=auth_header(first, "captain")).status_code == 409
    db.captains.update_one({"_id": first["_id"]}, {"$set": {"status": "active"}})
    response = client.post(url, headers=auth_header(first, "captain"))
    assert response.status_code == 200
    body = response.get_json()["ride"]
    assert body["status"] == "accepted" and body["acceptedAt"] and "otp" not in body
    late = client.post(url, headers=auth_header(second, "captain"))
    assert late.status_code == 409
    # A captain with an accepted ride cannot take another.
    other_ride = request_ride(client, make_user(db)).get_json()["ride"]
    busy = client.post(f"/rides/{other_ride['_id']}/accept", headers=auth_header(first, "captain"))
    assert busy.status_code == 409
    assert client.post(f"/rides/{other_ride['_id']}/accept",
                       headers=auth_header(second, "captain")).status_code == 200


def test_otp_right(accepted, client, db):
    user, captain, ride = accepted
    response = start(client, captain, ride["_id"], ride["otp"])
    assert response.status_code == 200
    started = response.get_json()["ride"]
    assert started["status"] == "ongoing" and started["startedAt"] and "otp" not in started
    again = start(client, captain, ride["_id"], ride["otp"])
    assert again.status_code == 409


def test_each_transition_answers_the_ride_as_stored(accepted, client, db):
    """Transitions return the document read plus the update applied (not re-read):
    it must equal what the database holds, minus the private fields."""
    user, captain, ride = accepted
    started = start(client, captain, ride["_id"], ride["otp"]).get_json()["ride"]
    ended = client.post(f"/rides/{ride['_id']}/end",
                        headers=auth_header(captain, "captain")).get_json()["ride"]
    stored = client.get(f"/rides/{ride['_id']}",
                        headers=auth_header(captain, "captain")).get_json()["ride"]
    assert ended == stored and ended["status"] == "completed"
    assert started["startedAt"] == ended["startedAt"]
    # round 1, accept, start, end
    assert db.rides.find_one({"_id": ObjectId(ride["_id"])})["_rev"] == 4
    for shown in (ride, started, ended):
        assert not {"_rev", "otpFailures", "dispatched"} & set(shown)


def test_otp_wrong_then_locked(accepted, client, db):
    user, captain, ride = accepted
    for _ in range(5):
        response = start(client, captain, ride["_id"], wrong(ride["otp"]))
        assert response.status_code == 400
        assert response.get_json() == {"message": "Invalid OTP"}
    locked = start(client, captain, ride["_id"], ride["otp"])
    assert locked.status_code == 429
    assert client.get(f"/rides/{ride['_id']}", headers=auth_header(user)
                      ).get_json()["ride"]["status"] == "accepted"
    # The rider can still cancel the locked ride.
    assert client.post(f"/rides/{ride['_id']}/cancel", headers=auth_header(user)
                       ).status_code == 200


def test_otp_input_and_who_may_start(accepted, client, db):
    user, captain, ride = accepted
    url = f"/rides/{ride['_id']}/start"
    for bad in ({}, {"otp": "12ab56"}, {"otp": "1234567"}, {"otp": True}):
        response = client.post(url, json=bad, headers=auth_header(captain, "captain"))
        assert response.status_code == 400 and "errors" in response.get_json()
    assert db.rides.find_one()["otpFailures"] == 0  # malformed input is not a try
    other = make_captain(db)
    assert start(client, other, ride["_id"], ride["otp"]).status_code == 404
    assert client.post(url, json={"otp": ride["otp"]}, headers=auth_header(user)
                       ).status_code == 403
    # A JSON number gets its leading zeros back.
    db.rides.update_one({}, {"$set": {"otp": "004321"}})
    assert client.post(url, json={"otp": 4321}, headers=auth_header(captain, "captain")
                       ).status_code == 200


def test_illegal_transitions(accepted, client, db):
    user, captain, ride = accepted
    rid, as_captain = ride["_id"], auth_header(captain, "captain")
    assert client.post(f"/rides/{rid}/end", headers=as_captain).status_code == 409
    assert start(client, captain, rid, ride["otp"]).status_code == 200
    assert client.post(f"/rides/{rid}/cancel", headers=auth_header(user)).status_code == 409
    assert client.post(f"/rides/{rid}/cancel", headers=as_captain).status_code == 409
    assert client.post(f"/rides/{rid}/end", headers=auth_header(user)).status_code == 403
    ended = client.post(f"/rides/{rid}/end", headers=as_captain)
    assert ended.status_code == 200
    done = ended.get_json()["ride"]
    assert done["status"] == "completed" and done["completedAt"]
    for action in ("end", "cancel", "accept"):
        assert client.post(f"/rides/{rid}/{action}", headers=as_captain).status_code == 409
    assert start(client, captain, rid, ride["otp"]).status_code == 409
    # Both are free again.
    assert request_ride(client, user).status_code == 201


def test_cancel_by_captain_and_by_strangers(accepted, client, db):
    user, captain, ride = accepted
    url = f"/rides/{ride['_id']}/cancel"
    assert client.post(url, headers=auth_header(make_user(db))).status_code == 404
    assert client.post(url, headers=auth_header(make_captain(db), "captain")).status_code == 404
    response = client.post(url, headers=auth_header(captain, "captain"))
    assert response.status_code == 200
    body = response.get_json()["ride"]
    assert body["status"] == "cancelled" and body["cancelledAt"] and body["cancelledBy"] == \
        "captain"
    assert client.post(url, headers=auth_header(user)).status_code == 409


def test_activity_in_both_histories(accepted, client, db):
    user, captain, ride = accepted
    start(client, captain, ride["_id"], ride["otp"])
    client.post(f"/rides/{ride['_id']}/end", headers=auth_header(captain, "captain"))

    def actions(account, role):
        entries = db.activities.find({"account": account["_id"], "role": role}).sort("_id", 1)
        return [(e["action"], e["meta"]["rideId"]) for e in entries]

    rid = ride["_id"]
    assert actions(user, "user") == [("ride-requested", rid), ("ride-accepted", rid),
                                     ("ride-started", rid), ("ride-completed", rid)]
    assert actions(captain, "captain") == [("ride-accepted", rid), ("ride-started", rid),
                                           ("ride-completed", rid)]
    assert all("otp" not in e["meta"] for e in db.activities.find())


def test_history_is_paged_and_private(realtime_app, client, db):
    user, captain = make_user(db), make_captain(db, location=north_of(PICKUP, 1))
    online(realtime_app, captain)
    ids = []
    for _ in range(3):
        ride = request_ride(client, user).get_json()["ride"]
        ids.append(ride["_id"])
        client.post(f"/rides/{ride['_id']}/cancel", headers=auth_header(user))
    make_user(db)
    page = client.get("/rides?limit=2", headers=auth_header(user)).get_json()
    assert [r["_id"] for r in page["rides"]] == ids[::-1][:2]
    assert all(r["otp"] for r in page["rides"])
    rest = client.get(f"/rides?limit=2&before={page['next']}", headers=auth_header(user))
    assert [r["_id"] for r in rest.get_json()["rides"]] == ids[:1]
    assert rest.get_json()["next"] is None
    assert client.get("/rides?status=pending", headers=auth_header(user)
                      ).get_json()["rides"] == []
    assert client.get("/rides", headers=auth_header(make_user(db))).get_json()["rides"] == []
    assert client.get("/rides", headers=auth_header(captain, "captain")
                      ).get_json()["rides"] == []
    for query in ("limit=0", "limit=101", "before=zzz", "status=flying"):
        assert client.get(f"/rides?{query}", headers=auth_header(user)).status_code == 400


def test_indexes(realtime_app, db):
    rides = db.rides.index_information()
    assert rides["one_open_ride_per_user"]["unique"]
    assert rides["one_open_ride_per_captain"]["unique"]
    assert dict(rides["one_open_ride_per_captain"]["partialFilterExpression"]) == {
        "status": {"$in": ["accepted", "ongoing"]}}

"""Ride dispatch, ride events and live locations: the realtime app in this process
(DISPATCH_MAX=3, DISPATCH_RADIUS_KM=3), its sockets through Flask-SocketIO's test client
and its routes through Flask's."""
import pytest

from ..factories import auth_header, make_captain, make_user, token_for
from ..rides_support import PICKUP, east_of, north_of, ride_body
from ..sockets import flush
from ..waiting import wait_until


@pytest.fixture
def app(make_realtime_app):
    return make_realtime_app(DISPATCH_MAX=3, DISPATCH_RADIUS_KM=3)


@pytest.fixture
def http(app):
    return app.test_client()


@pytest.fixture
def connect(app, app_sockets):
    return lambda account, role="user": app_sockets(app, token_for(account, role))


def post(http, path, account, role="user", json=None):
    return http.post(path, json=json, headers=auth_header(account, role))


def test_dispatch_reaches_exactly_the_right_captains(http, db, connect):
    nearest, second, third = (make_captain(db, location=north_of(PICKUP, km))
                              for km in (0.2, 0.6, 1.2))
    over_cap = make_captain(db, location=east_of(PICKUP, 2.0))
    excluded = {
        "inactive": make_captain(db, status="inactive", location=north_of(PICKUP, 0.1)),
        "motorcycle": make_captain(db, vehicle_type="motorcycle",
                                   location=north_of(PICKUP, 0.1)),
        "out of radius": make_captain(db, location=east_of(PICKUP, 3.3)),
        "no location": make_captain(db),
        "over the cap": over_cap,
    }
    went_offline = make_captain(db, location=north_of(PICKUP, 0.05))
    make_captain(db, location=north_of(PICKUP, 0.05))  # never connected
    chosen = {name: connect(c, "captain") for name, c in
              {"nearest": nearest, "second": second, "third": third}.items()}
    others = {name: connect(c, "captain") for name, c in excluded.items()}
    leaving = connect(went_offline, "captain")
    leaving.disconnect()
    wait_until(lambda: db.captains.find_one({"_id": went_offline["_id"]})["socketId"] is None)
    rider, bystander = make_user(db), make_user(db)
    rider_socket, bystander_socket = connect(rider), connect(bystander)

    response = post(http, "/rides", rider, json=ride_body())
    assert response.status_code == 201
    assert response.get_json()["dispatchedTo"] == 3
    ride_id = response.get_json()["ride"]["_id"]
    for client in chosen.values():
        new_ride = client.wait_for("new-ride")
        assert new_ride["_id"] == ride_id and new_ride["status"] == "pending"
        assert "otp" not in new_ride and "dispatched" not in new_ride
        assert new_ride["user"]["fullname"] == rider["fullname"]
        assert "email" not in new_ride["user"]
    for name, client in {**others, "rider": rider_socket, "bystander": bystander_socket}.items():
        flush(client)
        assert "new-ride" not in client.events, name
    stored = db.rides.find_one()
    assert stored["dispatched"] == [nearest["_id"], second["_id"], third["_id"]]


def request_and_accept(http, db, connect, dispatched=2):
    """A rider and `dispatched` connected captains; the first accepts the ride."""
    rider = make_user(db)
    captains = [make_captain(db, location=north_of(PICKUP, 0.3 * (i + 1)))
                for i in range(dispatched)]
    sockets = [connect(c, "captain") for c in captains]
    rider_socket = connect(rider)
    ride = post(http, "/rides", rider, json=ride_body()).get_json()["ride"]
    for s in sockets:
        s.wait_for("new-ride")
    accepted = post(http, f"/rides/{ride['_id']}/accept", captains[0], "captain")
    assert accepted.status_code == 200
    return rider, rider_socket, captains, sockets, ride


def test_accept_confirms_rider_and_tells_the_others(http, db, connect):
    rider, rider_socket, captains, sockets, ride = request_and_accept(http, db, connect, 3)
    confirmed = rider_socket.wait_for("ride-confirmed")
    assert confirmed["_id"] == ride["_id"] and confirmed["status"] == "accepted"
    assert confirmed["otp"] == ride["otp"]
    assert confirmed["captain"]["_id"] == str(captains[0]["_id"])
    assert confirmed["captain"]["fullname"] == captains[0]["fullname"]
    assert confirmed["captain"]["vehicle"] == captains[0]["vehicle"]
    assert not {"email", "password", "tokenVersion", "location"} & set(confirmed["captain"])
    for other in sockets[1:]:
        assert other.wait_for("ride-taken") == {"rideId": ride["_id"]}
    winner_view = sockets[0].wait_for("ride-confirmed")
    assert "otp" not in winner_view
    flush(sockets[0])
    assert "ride-taken" not in sockets[0].events


def test_start_and_end_are_pushed_to_both_parties(http, db, connect):
    rider, rider_socket, captains, sockets, ride = request_and_accept(http, db, connect)
    wrong = post(http, f"/rides/{ride['_id']}/start", captains[0], "captain",
                 json={"otp": f"{(int(ride['otp']) + 1) % 10**6:06d}"})
    assert wrong.status_code == 400
    started = post(http, f"/rides/{ride['_id']}/start", captains[0], "captain",
                   json={"otp": ride["otp"]})
    assert started.status_code == 200
    assert rider_socket.wait_for("ride-started")["otp"] == ride["otp"]
    captain_view = sockets[0].wait_for("ride-started")
    assert captain_view["status"] == "ongoing" and "otp" not in captain_view
    assert post(http, f"/rides/{ride['_id']}/end", captains[0], "captain").status_code == 200
    for client in (rider_socket, sockets[0]):
        ended = client.wait_for("ride-ended")
        assert ended["status"] == "completed" and ended["completedAt"]
    flush(sockets[1])
    assert not {"ride-started", "ride-ended"} & set(sockets[1].events)


def test_cancel_is_pushed(http, db, connect):
    # Pending: the rider cancels, every dispatched captain hears it.
    rider = make_user(db)
    captain_sockets = [connect(make_captain(db, location=east_of(PICKUP, 2.5)), "captain")
                       for _ in range(2)]
    ride = post(http, "/rides", rider, json=ride_body()).get_json()["ride"]
    assert post(http, f"/rides/{ride['_id']}/cancel", rider).status_code == 200
    for client in captain_sockets:
        cancelled = client.wait_for("ride-cancelled")
        assert cancelled["_id"] == ride["_id"] and "otp" not in cancelled
    # Accepted: the captain cancels, the rider hears it.
    rider, rider_socket, captains, sockets, ride = request_and_accept(http, db, connect)
    assert post(http, f"/rides/{ride['_id']}/cancel", captains[0], "captain").status_code == 200
    pushed = rider_socket.wait_for("ride-cancelled")
    assert pushed["status"] == "cancelled" and pushed["cancelledBy"] == "captain"
    assert sockets[0].wait_for("ride-cancelled")["_id"] == ride["_id"]


def test_location_is_forwarded_to_the_rider_and_stored_on_ride_changes(http, db, connect):
    rider, rider_socket, captains, sockets, ride = request_and_accept(http, db, connect)
    stranger_socket = connect(make_user(db))
    captain_socket = sockets[0]

    def stored():
        return db.captains.find_one({"_id": captains[0]["_id"]})["location"]["coordinates"]

    before = stored()
    ack = captain_socket.call("update-location-captain",
                                     {"location": {"lat": 12.98, "lng": 77.6}}, timeout=5)
    assert ack == {"ok": True}
    forwarded = rider_socket.wait_for("captain-location")
    assert forwarded == {"rideId": ride["_id"], "location": {"lat": 12.98, "lng": 77.6}}
    assert stored() == before  # not written on the update itself
    # `ltd` is accepted; the ongoing ride is forwarded too; the start wrote the position.
    post(http, f"/rides/{ride['_id']}/start", captains[0], "captain", json={"otp": ride["otp"]})
    assert stored() == [77.6, 12.98]
    captain_socket.call("update-location-captain",
                               {"location": {"ltd": 12.99, "lng": 77.61}}, timeout=5)
    rider_socket.wait_for("captain-location", lambda p: p["location"]["lat"] == 12.99)
    # The other dispatched captain's moves go to no one.
    sockets[1].call("update-location-captain",
                           {"location": {"lat": 12.5, "lng": 77.5}}, timeout=5)
    # After the end (which wrote the latest position), nothing more is forwarded.
    post(http, f"/rides/{ride['_id']}/end", captains[0], "captain")
    assert stored() == [77.61, 12.99]
    captain_socket.call("update-location-captain",
                               {"location": {"lat": 13.5, "lng": 77.7}}, timeout=5)
    flush(rider_socket)
    flush(stranger_socket)
    assert [p["location"]["lat"] for p in rider_socket.events["captain-location"]] == [
        12.98, 12.99]
    assert "captain-location" not in stranger_socket.events


BAD_LOCATIONS = [
    None, "12.9,77.6", [], {}, {"location": None}, {"location": {"lat": 12.9}},
    {"location": {"lat": 91, "lng": 0}}, {"location": {"lat": 0, "lng": -180.5}},
    {"location": {"lat": "north", "lng": 0}}, {"location": {"lat": True, "lng": 0}},
    {"location": {"lat": "NaN", "lng": 0}},
]


def test_bad_location_answers_error_and_changes_nothing(http, db, connect):
    captain = make_captain(db, location=(12.9, 77.6))
    client = connect(captain, "captain")
    for payload in BAD_LOCATIONS:
        ack = client.call("update-location-captain", payload, timeout=5)
        assert ack["ok"] is False and ack["message"], payload
        assert client.events["error"][-1] == {"message": ack["message"]}
    assert len(client.events["error"]) == len(BAD_LOCATIONS)
    assert db.captains.find_one({"_id": captain["_id"]})["location"] == {
        "type": "Point", "coordinates": [77.6, 12.9]}


def test_only_captains_update_locations(http, db, connect):
    client = connect(make_user(db))
    ack = client.call("update-location-captain", {"location": {"lat": 1, "lng": 2}},
                             timeout=5)
    assert ack == {"ok": False, "message": "Only captains can update their location"}
    assert client.wait_for("error")["message"] == ack["message"]


def test_rider_and_captain_chat_only_during_their_ride(http, db, connect):
    rider = make_user(db)
    captain = make_captain(db, location=north_of(PICKUP, 0.3))
    captain_socket, rider_socket = connect(captain, "captain"), connect(rider)

    def send(sender, role, receiver, text):
        return post(http, f"/messages/send/{receiver['_id']}", sender, role, json={"text": text})

    ride = post(http, "/rides", rider, json=ride_body()).get_json()["ride"]
    assert send(rider, "user", captain, "are you coming?").status_code == 403  # pending
    assert post(http, f"/rides/{ride['_id']}/accept", captain, "captain").status_code == 200
    assert send(rider, "user", captain, "at the gate").status_code == 201
    captain_socket.wait_for("newMessage", lambda m: m["text"] == "at the gate")
    assert send(captain, "captain", rider, "2 minutes").status_code == 201
    # (The sender's own connections get a copy of what it sent, too.)
    rider_socket.wait_for("newMessage", lambda m: m["text"] == "2 minutes")
    post(http, f"/rides/{ride['_id']}/start", captain, "captain", json={"otp": ride["otp"]})
    assert send(captain, "captain", rider, "buckle up").status_code == 201
    post(http, f"/rides/{ride['_id']}/end", captain, "captain")
    assert send(rider, "user", captain, "thanks").status_code == 403
    assert send(captain, "captain", rider, "bye").status_code == 403
    history = http.get(f"/messages/{captain['_id']}", headers=auth_header(rider))
    assert [m["text"] for m in history.get_json()["messages"]] == [
        "at the gate", "2 minutes", "buckle up"]
    # Another captain never could.
    stranger = make_captain(db)
    assert send(stranger, "captain", rider, "hi").status_code == 403

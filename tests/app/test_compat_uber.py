"""The Uber clone's ride routes over HTTP and Socket.IO, with the
apps in this process (Flask's and Flask-SocketIO's test clients): the whole ride from
fare to end with the payload shapes its frontend renders, the Bearer-only start, the
errors' `message`, `moto`, the route order, and the account routes' compat shapes."""
import logging

import pytest
from bson import ObjectId

from shared.logging import JsonFormatter

from ..auth_api import bearer
from ..conftest import make_config
from ..factories import auth_header, make_captain, make_user, token_for
from ..rides_support import north_of
from ..sockets import flush
from ..uber_support import CONNAUGHT, DELHI, INDIA_GATE, add_places

PICKUP = {"lat": DELHI[0][1], "lng": DELHI[0][2]}  # Connaught Place
TRIP = {"pickup": CONNAUGHT, "destination": INDIA_GATE}


@pytest.fixture
def app(make_realtime_app, db):
    add_places(db)
    return make_realtime_app(DISPATCH_RADIUS_KM=5)


@pytest.fixture
def http(app):
    return app.test_client()


@pytest.fixture
def connect(app, app_sockets):
    def open_client(account, role="user", token=None):
        return app_sockets(app, token or token_for(account, role))

    return open_client


def call(http, method, path, account=None, role="user", params=None, **kwargs):
    headers = auth_header(account, role) if account else {}
    return http.open(path, method=method, headers=headers, query_string=params, **kwargs)


def start_ride(http, captain, ride_id, otp, **kwargs):
    return call(http, "GET", "/rides/start-ride", captain, "captain",
                params={"rideId": ride_id, "otp": otp}, **kwargs)


def logged(records):
    """The log lines of `records`, as the served process writes them (JSON)."""
    return "\n".join(JsonFormatter().format(record) for record in records)


def test_the_whole_uber_ride(http, db, connect, caplog):
    caplog.set_level(logging.INFO)
    rider = make_user(db, firstname="Riya")
    captain = make_captain(db, firstname="Kabir", location=north_of(PICKUP, 0.5))
    rider_socket, captain_socket = connect(rider), connect(captain, "captain")

    fare = call(http, "GET", "/rides/get-fare", rider, params=TRIP)
    assert fare.status_code == 200
    fares = fare.get_json()
    assert set(fares) == {"auto", "car", "moto"}
    assert all(isinstance(value, int) and value > 0 for value in fares.values())

    created = call(http, "POST", "/rides/create", rider, json={**TRIP, "vehicleType": "car"})
    assert created.status_code == 201
    ride = created.get_json()
    assert ride["pickup"] == CONNAUGHT and ride["destination"] == INDIA_GATE
    assert ride["pickupLocation"] == {"lat": PICKUP["lat"], "lng": PICKUP["lng"],
                                      "address": CONNAUGHT}
    assert ride["fare"] == fares["car"] and ride["status"] == "pending"
    assert len(ride["otp"]) == 6 and ride["user"]["fullname"] == rider["fullname"]
    assert db.rides.find_one({"_id": ObjectId(ride["_id"])})["client"] == "uber"

    new_ride = captain_socket.wait_for("new-ride")
    assert new_ride["_id"] == ride["_id"] and "otp" not in new_ride
    assert (new_ride["pickup"], new_ride["destination"]) == (CONNAUGHT, INDIA_GATE)
    assert new_ride["user"]["fullname"] == {"firstname": "Riya", "lastname": "Tester"}
    assert new_ride["fare"] == fares["car"] and "email" not in new_ride["user"]

    confirmed = call(http, "POST", "/rides/confirm", captain, "captain",
                     json={"rideId": new_ride["_id"], "captainId": str(ObjectId())})
    assert confirmed.status_code == 200
    assert confirmed.get_json()["captain"]["_id"] == str(captain["_id"])  # not the forged id
    assert "otp" not in confirmed.get_json()
    for_rider = rider_socket.wait_for("ride-confirmed")
    assert for_rider["captain"]["fullname"]["firstname"] == "Kabir"
    assert for_rider["captain"]["vehicle"]["plate"] == captain["vehicle"]["plate"]
    assert for_rider["otp"] == ride["otp"] and for_rider["pickup"] == CONNAUGHT
    assert "otp" not in captain_socket.wait_for("ride-confirmed")

    cookie_only = http.get("/rides/start-ride",
                           query_string={"rideId": ride["_id"], "otp": ride["otp"]},
                           headers={"Cookie": f"token={token_for(captain, 'captain')}"})
    assert cookie_only.status_code == 401 and cookie_only.get_json()["message"]
    wrong = start_ride(http, captain, ride["_id"], f"{(int(ride['otp']) + 1) % 10**6:06d}")
    assert wrong.status_code == 400 and wrong.get_json() == {"message": "Invalid OTP"}
    malformed = start_ride(http, captain, ride["_id"], "12ab")
    assert malformed.status_code == 400
    assert malformed.get_json()["message"] == "OTP must be 6 digits"
    assert malformed.get_json()["errors"][0]["param"] == "otp"
    started = start_ride(http, captain, ride["_id"], ride["otp"])
    assert started.status_code == 200 and started.get_json()["status"] == "ongoing"
    ride_started = rider_socket.wait_for("ride-started")
    assert ride_started["captain"]["fullname"]["firstname"] == "Kabir"
    assert ride_started["captain"]["vehicle"]["plate"] == captain["vehicle"]["plate"]
    assert ride_started["destination"] == INDIA_GATE and ride_started["fare"] == fares["car"]

    ended = call(http, "POST", "/rides/end-ride", captain, "captain", json={"rideId": ride["_id"]})
    assert ended.status_code == 200 and ended.get_json()["status"] == "completed"
    for client in (rider_socket, captain_socket):
        assert client.wait_for("ride-ended")["destination"] == INDIA_GATE

    # Ridewire's own route keeps its own shape for the same ride.
    own = call(http, "GET", f"/rides/{ride['_id']}", rider).get_json()["ride"]
    assert own["pickup"] == ride["pickupLocation"]
    # The OTP never reaches the access log (the path is logged without its query).
    log = logged(caplog.records)
    assert "/rides/start-ride" in log and "otp=" not in log and ride["otp"] not in log


def test_confirm_is_for_one_dispatched_captain(http, db, connect):
    rider = make_user(db)
    first, second = (make_captain(db, location=north_of(PICKUP, km)) for km in (0.2, 0.4))
    outsider = make_captain(db, location=north_of(PICKUP, 30))
    sockets = [connect(first, "captain"), connect(second, "captain")]
    ride = call(http, "POST", "/rides/create", rider,
                json={**TRIP, "vehicleType": "car"}).get_json()
    for client in sockets:
        client.wait_for("new-ride")
    body = {"rideId": ride["_id"]}
    assert call(http, "POST", "/rides/confirm", first, "captain", json=body).status_code == 200
    late = call(http, "POST", "/rides/confirm", second, "captain", json=body)
    assert late.status_code == 409 and late.get_json()["message"]
    stranger = call(http, "POST", "/rides/confirm", outsider, "captain", json=body)
    assert stranger.status_code == 404
    assert call(http, "POST", "/rides/confirm", rider, json=body).status_code == 403
    invalid = call(http, "POST", "/rides/confirm", first, "captain", json={"rideId": "x"})
    assert invalid.status_code == 400
    assert invalid.get_json()["message"] == "Invalid id" and invalid.get_json()["errors"]
    # The rider's second ride while this one is open: 409, with a message.
    again = call(http, "POST", "/rides/create", rider, json={**TRIP, "vehicleType": "car"})
    assert again.status_code == 409 and again.get_json()["message"]


def test_create_validates_and_geocodes(http, db):
    rider = make_user(db)
    unknown = call(http, "POST", "/rides/create", rider,
                   json={**TRIP, "destination": "Qqzx Nowhere", "vehicleType": "car"})
    assert unknown.status_code == 404 and unknown.get_json() == {"message": "Coordinates not found"}
    bad = call(http, "POST", "/rides/create", rider,
               json={"pickup": "ab", "vehicleType": "boat"})
    assert bad.status_code == 400
    assert {error["param"] for error in bad.get_json()["errors"]} == {
        "pickup", "destination", "vehicleType"}
    assert bad.get_json()["message"]
    assert db.rides.count_documents({}) == 0
    no_fare = call(http, "GET", "/rides/get-fare", rider, params={**TRIP, "pickup": "Qqzx Nowhere"})
    assert no_fare.status_code == 404


def test_moto_signup_and_dispatch(http, db, connect, auth_client):
    signup = auth_client.post("/captains/register", json={
        "fullname": {"firstname": "Moti", "lastname": "Rider"}, "email": "moti@example.com",
        "password": "secret1", "vehicle": {"color": "White", "plate": "DL01AB1234",
                                           "capacity": "4", "vehicleType": "moto"}})
    assert signup.status_code == 201, signup.get_data(as_text=True)
    vehicle = signup.get_json()["captain"]["vehicle"]
    assert vehicle["vehicleType"] == "motorcycle" and vehicle["capacity"] == 4
    token = signup.get_json()["token"]
    assert auth_client.patch("/captains/status", headers=bearer(token),
                             json={"status": "active"}).status_code == 200
    lat, lng = north_of(PICKUP, 0.3)
    moto_socket = connect(None, token=token)
    assert moto_socket.call("update-location-captain",
                            {"location": {"ltd": lat, "lng": lng}}) == {"ok": True}
    car_socket = connect(make_captain(db, location=north_of(PICKUP, 0.2)), "captain")
    rider = make_user(db)
    created = call(http, "POST", "/rides/create", rider, json={**TRIP, "vehicleType": "moto"})
    assert created.status_code == 201 and created.get_json()["vehicleType"] == "motorcycle"
    assert moto_socket.wait_for("new-ride")["_id"] == created.get_json()["_id"]
    flush(car_socket)
    assert "new-ride" not in car_socket.events


def test_static_paths_win_over_the_ride_id(realtime_app):
    adapter = realtime_app.url_map.bind("localhost")
    assert adapter.match("/rides/get-fare", "GET")[0] == "uber_rides.get_fare"
    assert adapter.match("/rides/start-ride", "GET")[0] == "uber_rides.start_ride"
    assert adapter.match("/rides/" + "a" * 24, "GET")[0] == "rides.get_ride"
    assert adapter.match("/rides/create", "POST")[0] == "uber_rides.create"


def test_without_compat_routes_there_are_none(mongo_uri, db):
    from realtime_service.app import create_app

    client = create_app(make_config(mongo_uri, COMPAT_ROUTES=False)).test_client()
    headers = auth_header(make_user(db))
    response = client.get("/rides/get-fare?pickup=abc&destination=def", headers=headers)
    assert response.status_code == 400 and response.get_json()["errors"][0]["msg"] == "Invalid id"
    assert client.get("/maps/get-suggestions?input=abc", headers=headers).status_code == 404
    assert client.post("/rides/create", headers=headers, json={}).status_code == 405


def test_the_spec_tags_the_compat_routes(realtime_client):
    spec = realtime_client.get("/openapi.json").get_json()
    compat = {(path, method) for path, operations in spec["paths"].items()
              for method, operation in operations.items()
              if isinstance(operation, dict) and "compat" in operation.get("tags", [])}
    assert {("/maps/get-suggestions", "get"), ("/maps/get-coordinates", "get"),
            ("/maps/get-distance-time", "get"), ("/rides/get-fare", "get"),
            ("/rides/create", "post"), ("/rides/confirm", "post"),
            ("/rides/start-ride", "get"), ("/rides/end-ride", "post")} <= compat
    assert ("/rides/fare", "get") not in compat
    start = spec["paths"]["/rides/start-ride"]["get"]
    assert start["security"] == [{"bearerAuth": []}]
    suggestions = spec["paths"]["/maps/get-suggestions"]["get"]["responses"]["200"]
    assert suggestions["content"]["application/json"]["schema"]["type"] == "array"


def test_rider_profile_has_the_fields_at_the_top_level(auth_client, mongo_uri):
    from auth_service.app import create_app

    from ..auth_api import register

    user = register(auth_client)
    profile = auth_client.get("/users/profile", headers=bearer(user["token"])).get_json()
    assert profile == {**user["user"], "user": user["user"]}
    captain = register(auth_client, "captain")
    assert set(auth_client.get("/captains/profile", headers=bearer(captain["token"]))
               .get_json()) == {"captain"}
    own = create_app(make_config(mongo_uri, COMPAT_ROUTES=False)).test_client()
    assert own.get("/users/profile", headers=bearer(user["token"])).get_json() == {
        "user": user["user"]}

"""The Uber clone's ride routes over HTTP and Socket.IO against served
processes: the whole ride from fare to end with the payload shapes its frontend
renders, the Bearer-only start, the errors' `message`, `moto`, the route order, and the
account routes' compat shapes."""
import threading

import pytest
import requests
from bson import ObjectId

from .auth_api import bearer
from .conftest import make_config, serve
from .factories import auth_header, make_captain, make_user, token_for
from .rides_support import north_of
from .sockets import RecordingClient
from .uber_support import CONNAUGHT, DELHI, INDIA_GATE, add_places

PICKUP = {"lat": DELHI[0][1], "lng": DELHI[0][2]}  # Connaught Place
TRIP = {"pickup": CONNAUGHT, "destination": INDIA_GATE}


@pytest.fixture(scope="module")
def service(mongo_uri, tmp_path_factory):
    served = serve("realtime_service", mongo_uri, tmp_path_factory.mktemp("uber"),
                   DISPATCH_RADIUS_KM=5)
    yield served
    served.stop()


@pytest.fixture
def url(service, db):
    add_places(db)
    return service.url


@pytest.fixture
def connect(url):
    opened = []

    def open_client(account, role="user", token=None):
        client = RecordingClient().connect(url, token or token_for(account, role))
        opened.append(client)
        return client

    yield open_client
    threads = [threading.Thread(target=client.disconnect) for client in opened]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def call(url, method, path, account=None, role="user", **kwargs):
    headers = auth_header(account, role) if account else {}
    return requests.request(method, f"{url}{path}", headers=headers, timeout=10, **kwargs)


def flush(client):
    """Every event sent to this socket before is recorded once the ack is back."""
    client.client.call("update-location-captain", None, timeout=5)


def start_ride(url, captain, ride_id, otp, **kwargs):
    return call(url, "GET", "/rides/start-ride", captain, "captain",
                params={"rideId": ride_id, "otp": otp}, **kwargs)


def test_the_whole_uber_ride(url, db, connect, service):
    rider = make_user(db, firstname="Riya")
    captain = make_captain(db, firstname="Kabir", location=north_of(PICKUP, 0.5))
    rider_socket, captain_socket = connect(rider), connect(captain, "captain")

    fare = call(url, "GET", "/rides/get-fare", rider, params=TRIP)
    assert fare.status_code == 200
    fares = fare.json()
    assert set(fares) == {"auto", "car", "moto"}
    assert all(isinstance(value, int) and value > 0 for value in fares.values())

    created = call(url, "POST", "/rides/create", rider, json={**TRIP, "vehicleType": "car"})
    assert created.status_code == 201
    ride = created.json()
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

    confirmed = call(url, "POST", "/rides/confirm", captain, "captain",
                     json={"rideId": new_ride["_id"], "captainId": str(ObjectId())})
    assert confirmed.status_code == 200
    assert confirmed.json()["captain"]["_id"] == str(captain["_id"])  # not the forged id
    assert "otp" not in confirmed.json()
    for_rider = rider_socket.wait_for("ride-confirmed")
    assert for_rider["captain"]["fullname"]["firstname"] == "Kabir"
    assert for_rider["captain"]["vehicle"]["plate"] == captain["vehicle"]["plate"]
    assert for_rider["otp"] == ride["otp"] and for_rider["pickup"] == CONNAUGHT
    assert "otp" not in captain_socket.wait_for("ride-confirmed")

    cookie_only = requests.get(f"{url}/rides/start-ride", timeout=10,
                               params={"rideId": ride["_id"], "otp": ride["otp"]},
                               cookies={"token": token_for(captain, "captain")})
    assert cookie_only.status_code == 401 and cookie_only.json()["message"]
    wrong = start_ride(url, captain, ride["_id"], f"{(int(ride['otp']) + 1) % 10**6:06d}")
    assert wrong.status_code == 400 and wrong.json() == {"message": "Invalid OTP"}
    malformed = start_ride(url, captain, ride["_id"], "12ab")
    assert malformed.status_code == 400
    assert malformed.json()["message"] == "OTP must be 6 digits"
    assert malformed.json()["errors"][0]["param"] == "otp"
    started = start_ride(url, captain, ride["_id"], ride["otp"])
    assert started.status_code == 200 and started.json()["status"] == "ongoing"
    ride_started = rider_socket.wait_for("ride-started")
    assert ride_started["captain"]["fullname"]["firstname"] == "Kabir"
    assert ride_started["captain"]["vehicle"]["plate"] == captain["vehicle"]["plate"]
    assert ride_started["destination"] == INDIA_GATE and ride_started["fare"] == fares["car"]

    ended = call(url, "POST", "/rides/end-ride", captain, "captain", json={"rideId": ride["_id"]})
    assert ended.status_code == 200 and ended.json()["status"] == "completed"
    for client in (rider_socket, captain_socket):
        assert client.wait_for("ride-ended")["destination"] == INDIA_GATE

    # Ridewire's own route keeps its own shape for the same ride.
    own = call(url, "GET", f"/rides/{ride['_id']}", rider).json()["ride"]
    assert own["pickup"] == ride["pickupLocation"]
    # The OTP never reaches the access log (the path is logged without its query).
    log = service.log_path.read_text()
    assert "/rides/start-ride" in log and "otp=" not in log and ride["otp"] not in log


def test_confirm_is_for_one_dispatched_captain(url, db, connect):
    rider = make_user(db)
    first, second = (make_captain(db, location=north_of(PICKUP, km)) for km in (0.2, 0.4))
    outsider = make_captain(db, location=north_of(PICKUP, 30))
    sockets = [connect(first, "captain"), connect(second, "captain")]
    ride = call(url, "POST", "/rides/create", rider, json={**TRIP, "vehicleType": "car"}).json()
    for client in sockets:
        client.wait_for("new-ride")
    body = {"rideId": ride["_id"]}
    assert call(url, "POST", "/rides/confirm", first, "captain", json=body).status_code == 200
    late = call(url, "POST", "/rides/confirm", second, "captain", json=body)
    assert late.status_code == 409 and late.json()["message"]
    stranger = call(url, "POST", "/rides/confirm", outsider, "captain", json=body)
    assert stranger.status_code == 404
    assert call(url, "POST", "/rides/confirm", rider, json=body).status_code == 403
    invalid = call(url, "POST", "/rides/confirm", first, "captain", json={"rideId": "x"})
    assert invalid.status_code == 400
    assert invalid.json()["message"] == "Invalid id" and invalid.json()["errors"]
    # The rider's second ride while this one is open: 409, with a message.
    again = call(url, "POST", "/rides/create", rider, json={**TRIP, "vehicleType": "car"})
    assert again.status_code == 409 and again.json()["message"]


def test_create_validates_and_geocodes(url, db):
    rider = make_user(db)
    unknown = call(url, "POST", "/rides/create", rider,
                   json={**TRIP, "destination": "Qqzx Nowhere", "vehicleType": "car"})
    assert unknown.status_code == 404 and unknown.json() == {"message": "Coordinates not found"}
    bad = call(url, "POST", "/rides/create", rider,
               json={"pickup": "ab", "vehicleType": "boat"})
    assert bad.status_code == 400
    assert {error["param"] for error in bad.json()["errors"]} == {
        "pickup", "destination", "vehicleType"}
    assert bad.json()["message"]
    assert db.rides.count_documents({}) == 0
    no_fare = call(url, "GET", "/rides/get-fare", rider, params={**TRIP, "pickup": "Qqzx Nowhere"})
    assert no_fare.status_code == 404


def test_moto_signup_and_dispatch(url, db, connect, served_auth):
    signup = requests.post(f"{served_auth.url}/captains/register", timeout=10, json={
        "fullname": {"firstname": "Moti", "lastname": "Rider"}, "email": "moti@example.com",
        "password": "secret1", "vehicle": {"color": "White", "plate": "DL01AB1234",
                                           "capacity": "4", "vehicleType": "moto"}})
    assert signup.status_code == 201, signup.text
    vehicle = signup.json()["captain"]["vehicle"]
    assert vehicle["vehicleType"] == "motorcycle" and vehicle["capacity"] == 4
    token = signup.json()["token"]
    assert requests.patch(f"{served_auth.url}/captains/status", headers=bearer(token),
                          json={"status": "active"}, timeout=10).status_code == 200
    lat, lng = north_of(PICKUP, 0.3)
    db.captains.update_one({"email": "moti@example.com"}, {"$set": {"location": {
        "type": "Point", "coordinates": [lng, lat]}}})
    moto_socket = connect(None, token=token)
    car_socket = connect(make_captain(db, location=north_of(PICKUP, 0.2)), "captain")
    rider = make_user(db)
    created = call(url, "POST", "/rides/create", rider, json={**TRIP, "vehicleType": "moto"})
    assert created.status_code == 201 and created.json()["vehicleType"] == "motorcycle"
    assert moto_socket.wait_for("new-ride")["_id"] == created.json()["_id"]
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

    from .auth_api import register

    user = register(auth_client)
    profile = auth_client.get("/users/profile", headers=bearer(user["token"])).get_json()
    assert profile == {**user["user"], "user": user["user"]}
    captain = register(auth_client, "captain")
    assert set(auth_client.get("/captains/profile", headers=bearer(captain["token"]))
               .get_json()) == {"captain"}
    own = create_app(make_config(mongo_uri, COMPAT_ROUTES=False)).test_client()
    assert own.get("/users/profile", headers=bearer(user["token"])).get_json() == {
        "user": user["user"]}

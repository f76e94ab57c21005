"""Both tutorial frontends' traffic (docs/compat.md), replayed as their browsers send it:
through the gateway's one origin, the token in localStorage sent as `Authorization`
(Uber) or `token` (QuickChat), the HttpOnly cookie of the login in the jar, and
sockets authenticated by that cookie alone (`io(url)`, `io(url, {query: {userId}})`).
Every field each frontend reads is checked."""
import time

import pytest
import requests
import socketio

from ..gateway_stack import start_stack, stop_stack
from ..uber_support import CONNAUGHT, DELHI, INDIA_GATE, add_places


@pytest.fixture(scope="module")
def gateway(mongo_uri, tmp_path_factory):
    stack, processes = start_stack(mongo_uri, tmp_path_factory.mktemp("replay"),
                                   DISPATCH_RADIUS_KM=5)
    yield stack.url
    stop_stack(processes)


class Browser:
    """One browser profile of a frontend: a cookie jar, the localStorage token, sockets."""

    def __init__(self, origin, token_header):
        self.origin, self.token_header = origin, token_header
        self.http = requests.Session()
        self.token = None
        self.sockets = []

    def headers(self):
        if self.token_header == "Authorization":
            return {"Authorization": f"Bearer {self.token}"}
        return {"token": self.token} if self.token else {}

    def call(self, method, path, **kwargs):
        return self.http.request(method, self.origin + path, headers=self.headers(),
                                 timeout=10, **kwargs)

    def socket(self, query=""):
        """`io(origin)` as the page opens it: same origin, so the cookie goes along."""
        events = {}
        client = socketio.Client(reconnection=False)
        client.on("*", lambda event, *args: events.setdefault(event, []).append(
            args[0] if args else None))
        cookie = "; ".join(f"{c.name}={c.value}" for c in self.http.cookies)
        client.connect(self.origin + query, transports=["polling", "websocket"],
                       headers={"Cookie": cookie, "Sec-Fetch-Site": "same-origin"})
        client.events = events
        self.sockets.append(client)
        return client

    def close(self):
        for client in self.sockets:
            client.disconnect()


def wait_for(client, event, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.events.get(event):
            return client.events[event][-1]
        time.sleep(0.05)
    raise TimeoutError(f"no {event!r}; got {list(client.events)}")


@pytest.fixture
def browsers(gateway, db):
    opened = []

    def open_browser(token_header):
        browser = Browser(gateway, token_header)
        opened.append(browser)
        return browser

    yield open_browser
    for browser in opened:
        browser.close()


def test_the_uber_clone_ride_from_signup_to_ride_ended(browsers, db):
    add_places(db)
    rider, captain = browsers("Authorization"), browsers("Authorization")
    signup = rider.call("POST", "/users/register", json={
        "fullname": {"firstname": "Riya", "lastname": "Sharma"}, "email": "riya@b.io",
        "password": "secret1"})
    assert signup.status_code == 201 and signup.json()["user"]["_id"]
    rider.token = signup.json()["token"]
    profile = rider.call("GET", "/users/profile")
    assert profile.status_code == 200
    rider_id = profile.json()["_id"]  # setUser(response.data): the user at the top level
    signup = captain.call("POST", "/captains/register", json={
        "fullname": {"firstname": "Kabir", "lastname": "Singh"}, "email": "kabir@b.io",
        "password": "secret1", "vehicle": {"color": "White", "plate": "DL01AB1234",
                                          "capacity": "4", "vehicleType": "car"}})
    assert signup.status_code == 201 and signup.json()["captain"]
    captain.token = signup.json()["token"]
    captain_profile = captain.call("GET", "/captains/profile").json()["captain"]
    assert captain_profile["fullname"] == {"firstname": "Kabir", "lastname": "Singh"}

    # CaptainHome: join, then its location, both on the cookie-authenticated socket.
    captain_socket = captain.socket()
    assert captain_socket.call("join", {"userId": captain_profile["_id"],
                                        "userType": "captain"}, timeout=5) == {"ok": True}
    pickup_lat, pickup_lng = DELHI[0][1], DELHI[0][2]
    captain_socket.emit("update-location-captain", {
        "userId": "ignored", "location": {"ltd": pickup_lat, "lng": pickup_lng}})
    rider_socket = rider.socket()
    assert rider_socket.call("join", {"userId": rider_id, "userType": "user"},
                             timeout=5) == {"ok": True}

    suggestions = rider.call("GET", "/maps/get-suggestions?input=Conn")
    assert suggestions.status_code == 200
    assert isinstance(suggestions.json(), list) and suggestions.json()[0]["label"]
    fare = rider.call("GET", "/rides/get-fare", params={"pickup": CONNAUGHT,
                                                         "destination": INDIA_GATE})
    assert fare.status_code == 200
    assert all(isinstance(fare.json()[kind], int | float) for kind in ("auto", "car", "moto"))
    created = rider.call("POST", "/rides/create", json={
        "pickup": CONNAUGHT, "destination": INDIA_GATE, "vehicleType": "car"})
    assert 200 <= created.status_code < 300

    new_ride = wait_for(captain_socket, "new-ride")
    assert new_ride["user"]["fullname"] == {"firstname": "Riya", "lastname": "Sharma"}
    assert (new_ride["pickup"], new_ride["destination"]) == (CONNAUGHT, INDIA_GATE)
    assert new_ride["fare"] == fare.json()["car"] and "otp" not in new_ride
    confirmed = captain.call("POST", "/rides/confirm", json={
        "rideId": new_ride["_id"], "captainId": captain_profile["_id"]})
    assert 200 <= confirmed.status_code < 300
    ride = wait_for(rider_socket, "ride-confirmed")
    assert ride["captain"]["fullname"]["firstname"] == "Kabir"
    assert ride["captain"]["vehicle"]["plate"] == "DL01AB1234"
    assert (ride["pickup"], ride["destination"], ride["fare"]) == (
        CONNAUGHT, INDIA_GATE, new_ride["fare"])
    assert len(ride["otp"]) == 6

    started = captain.call("GET", "/rides/start-ride",
                           params={"rideId": new_ride["_id"], "otp": ride["otp"]})
    assert started.status_code == 200
    riding = wait_for(rider_socket, "ride-started")
    assert riding["captain"]["fullname"]["firstname"] == "Kabir"
    assert riding["captain"]["vehicle"]["plate"] == "DL01AB1234"
    assert (riding["destination"], riding["fare"]) == (INDIA_GATE, new_ride["fare"])
    ended = captain.call("POST", "/rides/end-ride", json={"rideId": new_ride["_id"]})
    assert ended.status_code == 200
    assert wait_for(rider_socket, "ride-ended")["_id"] == new_ride["_id"]


def test_the_uber_clones_otp_route_refuses_the_cookie_alone(browsers, db):
    captain = browsers("Authorization")
    signup = captain.call("POST", "/captains/register", json={
        "fullname": {"firstname": "Kabir"}, "email": "k2@b.io", "password": "secret1",
        "vehicle": {"color": "White", "plate": "DL02", "capacity": "4",
                    "vehicleType": "moto"}})
    assert signup.json()["captain"]["vehicle"]["vehicleType"] == "motorcycle"
    assert "token" in captain.http.cookies  # the jar has it; the header is left out
    refused = captain.http.get(captain.origin + "/rides/start-ride",
                               params={"rideId": "0" * 24, "otp": "123456"}, timeout=5)
    assert refused.status_code == 401 and refused.json()["message"]


def test_quickchat_from_signup_to_seen_marks(browsers, db):
    alice, bob = browsers("token"), browsers("token")
    users = {}
    for browser, name, email in ((alice, "Alice Archer", "alice@b.io"),
                                 (bob, "Bo", "bob@b.io")):
        answer = browser.call("POST", "/api/auth/signup", json={
            "fullName": name, "email": email, "password": "secret1", "bio": "Hi"})
        assert answer.status_code == 200 and answer.json()["success"] is True
        body = answer.json()
        assert body["userData"]["fullName"] == name and body["message"]
        assert "password" not in body["userData"]
        browser.token = body["token"]
        users[email] = body["userData"]["_id"]
    check = alice.call("GET", "/api/auth/check")
    assert check.json()["success"] is True and check.json()["user"]["fullName"] == "Alice Archer"
    duplicate = bob.call("POST", "/api/auth/signup", json={
        "fullName": "Bo", "email": "bob@b.io", "password": "secret1", "bio": "Hi"})
    assert duplicate.status_code == 200 and duplicate.json()["success"] is False

    alice_id, bob_id = users["alice@b.io"], users["bob@b.io"]
    alice_socket = alice.socket(f"?userId={alice_id}")
    bob_socket = bob.socket(f"?userId={bob_id}")  # online too
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (
            alice_socket.events.get("getOnlineUsers")
            and set(alice_socket.events["getOnlineUsers"][-1]) >= {alice_id, bob_id}):
        time.sleep(0.05)
    assert set(alice_socket.events["getOnlineUsers"][-1]) >= {alice_id, bob_id}

    sidebar = bob.call("GET", "/api/messages/users").json()
    assert sidebar["success"] is True
    listed = {user["_id"]: user for user in sidebar["users"]}
    assert listed[alice_id]["fullName"] == "Alice Archer"
    sent = bob.call("POST", f"/api/messages/send/{alice_id}", json={"text": "hello"})
    assert sent.json()["success"] is True
    message = sent.json()["newMessage"]
    assert wait_for(alice_socket, "newMessage")["_id"] == message["_id"]
    time.sleep(0.3)
    assert not bob_socket.events.get("newMessage")  # as QuickChat's server: no echo
    assert alice.call("GET", "/api/messages/users").json()["unseenMessages"] == {bob_id: 1}
    conversation = alice.call("GET", f"/api/messages/{bob_id}").json()
    assert conversation["success"] is True
    assert [(m["senderId"], m["text"]) for m in conversation["messages"]] == [
        (bob_id, "hello")]
    assert alice.call("PUT", f"/api/messages/mark/{message['_id']}").json()["success"]
    assert alice.call("GET", "/api/messages/users").json()["unseenMessages"] == {}

    updated = alice.call("PUT", "/api/auth/update-profile",
                         json={"fullName": "Alice A.", "bio": "Hello there"})
    assert updated.json()["success"] is True
    assert updated.json()["user"]["fullName"] == "Alice A."

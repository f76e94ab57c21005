"""Per-account limits against the realtime service as production runs
it (APP_ENV=production, a real secret, rate limits on): ride requests, chat sends and
socket events each have a budget per account, shared by the Ridewire route and its
compat alias; what goes over it is refused and changes nothing."""
import jwt
import pytest
import requests

from ..conftest import serve
from ..factories import make_captain, make_user
from ..rides_support import PICKUP, north_of, ride_body
from ..sockets import RecordingClient
from ..uber_support import CONNAUGHT, INDIA_GATE, add_places
from ..waiting import wait_until
from .forge import claims

SECRET = "a-production-secret-of-at-least-32-chars"
BUDGET = 3


@pytest.fixture(scope="module")
def production_realtime(mongo_uri, tmp_path_factory):
    service = serve("realtime_service", mongo_uri, tmp_path_factory.mktemp("prod-limits"),
                    APP_ENV="production", JWT_SECRET_KEY=SECRET, RATELIMIT_ENABLED="true",
                    RIDE_REQUEST_RATE_LIMIT=f"{BUDGET} per minute",
                    CHAT_SEND_RATE_LIMIT=f"{BUDGET} per minute",
                    SOCKET_EVENT_RATE_LIMIT=f"{BUDGET} per minute", DISPATCH_RADIUS_KM=5,
                    LOCATION_PERSIST_SECONDS=0.2)
    yield service
    service.stop()


@pytest.fixture
def sockets():
    opened = []

    def connect(url, account, role):
        client = RecordingClient().connect(url, token(account, role))
        opened.append(client)
        return client

    yield connect
    for client in opened:
        client.disconnect()


def token(account, role="user"):
    return jwt.encode(claims(account, role=role), SECRET, algorithm="HS256")


def call(url, method, path, account, role="user", **kwargs):
    headers = {"Authorization": f"Bearer {token(account, role)}"}
    return requests.request(method, url + path, headers=headers, timeout=10, **kwargs)


def assert_limited(response):
    assert response.status_code == 429, response.text
    assert response.json()["message"]
    assert int(response.headers["Retry-After"]) > 0


def test_ride_requests_are_limited_per_account(production_realtime, db, sockets):
    """50 rides requested and cancelled pushed 50 `new-ride` to one captain."""
    url = production_realtime.url
    captain = make_captain(db, location=north_of(PICKUP, 1))
    driver = sockets(url, captain, "captain")
    rider, other = make_user(db), make_user(db)
    answers = []
    for _ in range(BUDGET + 3):
        created = call(url, "POST", "/rides", rider, json=ride_body())
        answers.append(created.status_code)
        if created.status_code == 201:
            ride_id = created.json()["ride"]["_id"]
            assert call(url, "POST", f"/rides/{ride_id}/cancel", rider).status_code == 200
        else:
            assert_limited(created)
    assert answers == [201] * BUDGET + [429] * 3
    add_places(db)
    compat = call(url, "POST", "/rides/create", rider,
                  json={"pickup": CONNAUGHT, "destination": INDIA_GATE, "vehicleType": "car"})
    assert_limited(compat)  # the Uber alias spends the same budget
    assert db.rides.count_documents({"user": rider["_id"]}) == BUDGET
    assert call(url, "POST", "/rides", other, json=ride_body()).status_code == 201
    driver.wait_for("new-ride", lambda ride: str(ride.get("user", {}).get("_id", ride.get(
        "user"))) == str(other["_id"]))
    assert len(driver.events["new-ride"]) == BUDGET + 1


def test_chat_sends_are_limited_per_account(production_realtime, db):
    url = production_realtime.url
    sender, receiver = make_user(db), make_user(db)
    path = f"/messages/send/{receiver['_id']}"
    sent = [call(url, "POST", path, sender, json={"text": f"hi {n}"})
            for n in range(BUDGET + 1)]
    assert [answer.status_code for answer in sent] == [201] * BUDGET + [429]
    assert_limited(sent[-1])
    quickchat = call(url, "POST", f"/api/messages/send/{receiver['_id']}", sender,
                     json={"text": "QuickChat"})
    assert_limited(quickchat)  # QuickChat's send spends the same budget
    assert db.messages.count_documents({"senderId": sender["_id"]}) == BUDGET
    reply = call(url, "POST", f"/messages/send/{sender['_id']}", receiver, json={"text": "yo"})
    assert reply.status_code == 201  # another account has its own budget


def test_socket_events_are_limited_per_account(production_realtime, db, sockets):
    url = production_realtime.url
    captain = make_captain(db, location=north_of(PICKUP, 1))
    client = sockets(url, captain, "captain")
    acks = [client.client.call("update-location-captain",
                               {"location": {"lat": 10.0 + n, "lng": 70.0}}, timeout=5)
            for n in range(BUDGET)]
    assert acks == [{"ok": True}] * BUDGET
    refused = client.client.call("update-location-captain",
                                 {"location": {"lat": 40.0, "lng": 70.0}}, timeout=5)
    assert refused["ok"] is False and refused["message"]
    assert client.wait_for("error")["message"] == refused["message"]
    # The refused update changed nothing: the last accepted one is what gets stored.
    assert wait_until(lambda: db.captains.find_one({"_id": captain["_id"]})["location"][
        "coordinates"] == [70.0, 10.0 + BUDGET - 1])
    join = client.client.call("join", {"userId": str(captain["_id"]), "userType": "captain"},
                              timeout=5)
    assert join["ok"] is False  # the budget covers every event of the account
    second = sockets(url, captain, "captain")  # per account, not per connection
    assert second.client.call("update-location-captain",
                              {"location": {"lat": 41.0, "lng": 70.0}}, timeout=5)["ok"] is False
    other = sockets(url, make_captain(db), "captain")
    assert other.client.call("update-location-captain",
                             {"location": {"lat": 42.0, "lng": 70.0}}, timeout=5) == {"ok": True}


@pytest.fixture(scope="module")
def proxied_realtime(mongo_uri, tmp_path_factory):
    """Behind one trusted proxy (the gateway), with the limits on."""
    service = serve("realtime_service", mongo_uri, tmp_path_factory.mktemp("proxied-limits"),
                    TRUSTED_PROXY_HOPS=1, RATELIMIT_ENABLED="true",
                    SOCKET_EVENT_RATE_LIMIT=f"{BUDGET} per minute")
    yield service
    service.stop()


def anonymous_socket(url, address):
    """An anonymous socket of the gateway's own page, from client address `address`."""
    client = RecordingClient()
    return client.connect(url, headers={"Origin": url, "X-Forwarded-For": address})


def test_anonymous_socket_events_are_limited_per_client_address(proxied_realtime, db):
    """Socket.IO requests never go through ProxyFix: every anonymous socket behind the
    gateway was counted as the gateway's address, one budget for all of them."""
    url = proxied_realtime.url
    first, second = anonymous_socket(url, "198.51.100.1"), anonymous_socket(url, "198.51.100.2")
    try:
        acks = [first.client.call("update-location-captain", {}, timeout=5)
                for _ in range(BUDGET + 1)]
        assert acks[-1]["message"] == "Too many events, try again later"
        other = second.client.call("update-location-captain", {}, timeout=5)
        assert other == {"ok": False, "message": "Authentication required"}
    finally:
        first.disconnect()
        second.disconnect()

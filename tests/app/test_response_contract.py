"""Every response of every route matches the schema its operation declares in the
generated /openapi.json, with no undeclared field: each declared object schema is made
strict (`additionalProperties: false`) before the recorded bodies are validated.

Each service runs one scenario through its in-process app that reaches every
documented operation with a success and with typical failures; a test also fails when
an operation was never answered with a success (so a new route must join the scenario).
"""
import base64
import re

import pytest
from flask import request
from jsonschema import Draft202012Validator

from ..auth_api import PNG_1PX
from ..factories import auth_header, make_captain, make_user, token_for
from ..meetings_support import exercise_meeting_accounts, exercise_meeting_history
from ..rides_support import online_by_hand
from ..uber_support import exercise_uber_routes

PNG = base64.b64encode(PNG_1PX).decode()  # a real image: stored images are decoded
METHODS = {"get", "post", "put", "patch", "delete"}
NOT_JSON = {"/docs", "/docs/{filename}", "/media/{media_id}", "/", "/console/", "/socket.io/"}


def strict(node):
    """A copy of a JSON schema in which every object with declared properties refuses
    other properties."""
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    copy = {key: strict(value) for key, value in node.items()}
    if "properties" in copy:
        copy.setdefault("additionalProperties", False)
    return copy


def openapi_path(rule):
    return re.sub(r"<(?:[a-z]+:)?(\w+)>", r"{\1}", rule.rule)


class Recorder:
    """Every (path, method, status, JSON body) an app answered."""

    def __init__(self, app):
        self.calls = []
        app.after_request(self.record)

    def record(self, response):
        if request.url_rule is not None:
            self.calls.append((openapi_path(request.url_rule), request.method.lower(),
                               response.status_code, response.get_json(silent=True)))
        return response


def check_contract(app, recorder):
    spec = app.test_client().get("/openapi.json").get_json()
    components = strict(spec["components"])
    problems, answered = [], set()
    for path, method, status, body in recorder.calls:
        operation = spec["paths"][path][method]
        declared = operation["responses"].get(str(status)) or operation["responses"].get(
            "default")
        if declared is None:
            problems.append(f"{method.upper()} {path}: {status} is not documented")
            continue
        if 200 <= status < 300:
            answered.add((path, method))
        if path in NOT_JSON:
            continue
        if "$ref" in declared:
            declared = components["responses"][declared["$ref"].rpartition("/")[2]]
        schema = declared.get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            problems.append(f"{method.upper()} {path}: {status} declares no JSON body")
            continue
        validator = Draft202012Validator({**strict(schema), "components": components})
        for error in validator.iter_errors(body):
            problems.append(f"{method.upper()} {path} {status}: {error.message}")
    documented = {(path, method) for path, operations in spec["paths"].items()
                  for method in operations if method in METHODS and path != "/socket.io/"}
    never = sorted(documented - answered)
    assert problems == []
    assert never == [], "operations the scenario never answered with a success"


@pytest.fixture
def auth(auth_app):
    return Recorder(auth_app), auth_app.test_client()


def test_auth_service_answers_only_what_it_declares(auth, auth_app):
    recorder, client = auth
    rider = {"fullname": {"firstname": "Riya", "lastname": "Rider"},
             "email": "riya@example.com", "password": "secret123"}
    captain = {**rider, "email": "cap@example.com",
               "vehicle": {"color": "black", "plate": "KA01", "capacity": 4,
                           "vehicleType": "car"}}
    assert client.post("/users/register", json=rider).status_code == 201
    assert client.post("/users/register", json=rider).status_code == 409
    assert client.post("/users/register", json={"email": "x"}).status_code == 400
    assert client.post("/captains/register", json=captain).status_code == 201
    user = client.post("/users/login", json=rider).get_json()
    assert client.post("/users/login", json={**rider, "password": "wrong!!"}).status_code \
        == 401
    cap = client.post("/captains/login", json=captain).get_json()
    as_user = {"Authorization": f"Bearer {user['token']}"}
    as_captain = {"Authorization": f"Bearer {cap['token']}"}
    for role, headers in (("users", as_user), ("captains", as_captain)):
        assert client.get(f"/{role}/profile", headers=headers).status_code == 200
        patched = client.patch(f"/{role}/profile", headers=headers, json={
            "bio": "hello", "profilePic": f"data:image/png;base64,{PNG}"})
        assert patched.status_code == 200
        picture = patched.get_json()[role[:-1]]["profilePic"]
        assert client.get(picture).status_code == 200
        assert client.post(f"/{role}/activity", headers=headers,
                           json={"action": "visited", "meta": {"place": "park"}}
                           ).status_code == 201
        assert client.get(f"/{role}/activity?limit=1", headers=headers).status_code == 200
    assert client.get("/users/profile", headers=as_captain).status_code == 403
    assert auth_app.test_client().get("/users/profile").status_code == 401
    assert client.get("/media/" + "0" * 24).status_code == 404
    # QuickChat's routes, with its `token` header.
    chat = {"fullName": "Quinn", "email": "quinn@example.com", "password": "secret123",
            "bio": "Hi"}
    signed = client.post("/api/auth/signup", json=chat)
    assert signed.status_code == 200 and signed.get_json()["success"] is True
    assert client.post("/api/auth/signup", json=chat).get_json()["success"] is False
    assert client.post("/api/auth/login", json=chat).status_code == 200
    as_chat = {"token": signed.get_json()["token"]}
    assert client.get("/api/auth/check", headers=as_chat).status_code == 200
    assert client.get("/api/auth/check", headers=as_captain).status_code == 403
    assert auth_app.test_client().get("/api/auth/check").status_code == 401
    assert client.put("/api/auth/update-profile", headers=as_chat, json={
        "fullName": "Q", "bio": "", "profilePic": f"data:image/png;base64,{PNG}"}
    ).status_code == 200
    assert client.put("/api/auth/update-profile", headers=as_chat,
                      json={"profilePic": "x"}).get_json()["success"] is False
    exercise_meeting_accounts(client)  # the video-meeting frontend's
    assert client.patch("/captains/status", headers=as_captain,
                        json={"status": "active"}).status_code == 200
    refreshed = client.post("/auth/refresh", json={"refreshToken": user["refreshToken"]})
    assert refreshed.status_code == 200
    as_user = {"Authorization": f"Bearer {refreshed.get_json()['token']}"}
    changed = client.put("/users/password", headers=as_user, json={
        "currentPassword": "secret123", "newPassword": "secret456"})
    assert changed.status_code == 200
    changed_captain = client.put("/captains/password", headers=as_captain, json={
        "currentPassword": "secret123", "newPassword": "secret456"})
    assert changed_captain.status_code == 200
    captain["password"] = "secret456"
    for role, token in (("users", changed.get_json()["token"]),
                        ("captains", changed_captain.get_json()["token"])):
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get(f"/{role}/logout", headers=headers).status_code == 200
    for role, creds in (("users", {**rider, "password": "secret456"}), ("captains", captain)):
        token = client.post(f"/{role}/login", json=creds).get_json()["token"]
        assert client.post(f"/{role}/logout", json={},
                           headers={"Authorization": f"Bearer {token}"}).status_code == 200
        token = client.post(f"/{role}/login", json=creds).get_json()["token"]
        assert client.post(f"/{role}/logout-all",
                           headers={"Authorization": f"Bearer {token}"}).status_code == 200
    for path in ("/healthz", "/readyz", "/docs", "/docs/swagger-ui.css"):
        assert client.get(path).status_code == 200
    check_contract(auth_app, recorder)


def test_realtime_service_answers_only_what_it_declares(realtime_app, db):
    recorder, client = Recorder(realtime_app), realtime_app.test_client()
    rider, friend = make_user(db), make_user(db)
    captain = make_captain(db, location=(12.97, 77.59))
    # No socket is connected in-process: the captain is online for dispatch by hand.
    online_by_hand(realtime_app, captain, "sid-1")
    as_rider, as_friend = auth_header(rider), auth_header(friend)
    as_captain = auth_header(captain, "captain")

    fare = client.get("/rides/fare?pickupLat=12.97&pickupLng=77.59&destinationLat=12.99"
                      "&destinationLng=77.61", headers=as_rider)
    assert fare.status_code == 200
    assert client.get("/rides/fare", headers=as_rider).status_code == 400
    trip = {"pickup": {"lat": 12.97, "lng": 77.59, "address": "A"},
            "destination": {"lat": 12.99, "lng": 77.61, "address": "B"},
            "vehicleType": "car"}
    ride = client.post("/rides", headers=as_rider, json=trip).get_json()["ride"]
    assert client.post("/rides", headers=as_rider, json=trip).status_code == 409
    ride_url = f"/rides/{ride['_id']}"
    assert client.post(f"{ride_url}/accept", headers=as_captain).status_code == 200
    assert client.post(f"{ride_url}/start", headers=as_captain,
                       json={"otp": "abc"}).status_code == 400
    assert client.post(f"{ride_url}/start", headers=as_captain,
                       json={"otp": ride["otp"]}).status_code == 200
    assert client.post(f"{ride_url}/end", headers=as_captain).status_code == 200
    assert client.get(ride_url, headers=as_rider).status_code == 200
    assert client.get(ride_url, headers=as_friend).status_code == 404
    assert client.get("/rides/not-an-id", headers=as_rider).status_code == 400
    again = client.post("/rides", headers=as_rider, json=trip).get_json()["ride"]
    decline = f"/rides/{again['_id']}/decline"
    assert client.post(decline, headers=as_rider).status_code == 403
    assert client.post(decline, headers=as_captain).status_code == 200  # then it waits
    assert client.post(decline, headers=as_captain).status_code == 409
    assert client.post("/rides/xyz/decline", headers=as_captain).status_code == 400
    assert client.post(f"/rides/{again['_id']}/cancel", headers=as_rider).status_code == 200
    assert client.post(f"/rides/{again['_id']}/cancel", headers=as_rider).status_code == 409
    assert client.get("/rides?limit=1", headers=as_rider).status_code == 200
    assert client.get("/rides", headers=as_captain).status_code == 200

    assert client.get("/messages/users", headers=as_rider).status_code == 200
    sent = client.post(f"/messages/send/{friend['_id']}", headers=as_rider,
                       json={"text": "hi", "image": f"data:image/png;base64,{PNG}"})
    assert sent.status_code == 201
    assert client.post(f"/messages/send/{rider['_id']}", headers=as_rider,
                       json={"text": "me"}).status_code == 400
    message_id = sent.get_json()["newMessage"]["_id"]
    assert client.post("/messages/delivered", headers=as_friend,
                       json={"messageIds": [message_id]}).status_code == 200
    assert client.post("/messages/delivered", headers=as_rider,
                       json={"messageIds": [message_id]}).status_code == 403
    assert client.post(f"/messages/{rider['_id']}/seen", headers=as_friend,
                       json={"upTo": message_id}).status_code == 200
    assert client.post(f"/messages/{friend['_id']}/seen", headers=as_friend,
                       json={}).status_code == 404
    first_sync = client.get("/messages/sync", headers=as_friend)
    assert first_sync.status_code == 200
    assert client.get("/messages/sync", headers=as_friend, query_string={
        "since": first_sync.get_json()["next"], "limit": 10}).status_code == 200
    assert client.get("/messages/sync?since=bad", headers=as_friend).status_code == 400
    keyed = {**as_rider, "Idempotency-Key": "contract"}
    for text in ("once", "once", "other"):  # 201, the replay, 422
        client.post(f"/messages/send/{friend['_id']}", headers=keyed, json={"text": text})
    assert client.get(f"/messages/{rider['_id']}?limit=5",
                      headers=as_friend).status_code == 200
    assert client.get(f"/messages/{captain['_id']}", headers=as_friend).status_code == 403
    assert client.get("/calls/ice-servers", headers=as_captain).status_code == 200
    assert client.get("/calls/history?limit=5", headers=as_rider).status_code == 200
    assert client.get("/calls/history?limit=0", headers=as_rider).status_code == 400
    # QuickChat's routes, with its `token` header.
    chat_rider, chat_friend = {"token": token_for(rider)}, {"token": token_for(friend)}
    assert client.get("/api/messages/users", headers=chat_rider).status_code == 200
    assert client.get("/api/messages/users").status_code == 401
    chat_sent = client.post(f"/api/messages/send/{friend['_id']}", headers=chat_rider,
                            json={"text": "hi", "image": f"data:image/png;base64,{PNG}"})
    assert chat_sent.status_code == 201
    assert client.post(f"/api/messages/send/{rider['_id']}", headers=chat_rider,
                       json={"text": "me"}).get_json()["success"] is False
    chat_mark = f"/api/messages/mark/{chat_sent.get_json()['newMessage']['_id']}"
    assert client.put(chat_mark, headers=chat_rider).get_json()["success"] is False
    assert client.put(chat_mark, headers=chat_friend).get_json()["success"] is True
    assert client.get(f"/api/messages/{rider['_id']}", headers=chat_friend).status_code == 200
    assert client.get(f"/api/messages/{captain['_id']}",
                      headers=chat_friend).get_json()["success"] is False
    exercise_uber_routes(client, db, rider, captain)  # the Uber clone's
    exercise_meeting_history(client, token_for(rider))  # the video-meeting frontend's
    for path in ("/", "/console/", "/healthz", "/readyz", "/docs", "/docs/swagger-ui.css"):
        assert client.get(path).status_code == 200
    check_contract(realtime_app, recorder)

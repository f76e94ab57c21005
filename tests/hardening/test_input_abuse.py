"""Hostile input against the served processes: oversized bodies and images, deeply
nested JSON, wrong types in every field, unicode and NUL bytes, Mongo operator
injection in bodies and query strings, and path ids that are not ObjectIds. Each gets
a clear 4xx in the documented shape, and a refused request changes nothing stored."""
import base64
import json

import pytest
import requests

from ..auth_api import PNG_1PX, data_url
from ..factories import auth_header, make_captain, make_user
from ..rides_support import DESTINATION, PICKUP, north_of

MIB = 1024 * 1024


@pytest.fixture
def world(served_auth, served_realtime, db):
    user, peer = make_user(db), make_user(db)
    captain = make_captain(db, location=north_of(PICKUP, 0.5))
    ride = db.rides.insert_one({
        "user": user["_id"], "captain": captain["_id"], "status": "accepted",
        "pickup": PICKUP, "destination": DESTINATION, "vehicleType": "car", "fare": 100,
        "distanceKm": 7.0, "durationMin": 15.0, "otp": "123456", "otpFailures": 0,
        "dispatched": [captain["_id"]]}).inserted_id
    return {"auth": served_auth.url, "rt": served_realtime.url, "db": db, "user": user,
            "peer": peer, "captain": captain, "ride": str(ride),
            "as_user": auth_header(user), "as_captain": auth_header(captain, "captain")}


def snapshot(db):
    """Everything stored, to compare before and after a refused request."""
    return {name: sorted(map(repr, db[name].find())) for name in db.list_collection_names()
            if not name.startswith("system.")}


def assert_error_shape(response):
    assert response.headers["Content-Type"].startswith("application/json"), response.text
    body = response.json()
    assert "message" in body or "errors" in body, body
    assert "Traceback" not in response.text


# Routes with a JSON body, each with a body that is valid (or valid enough to reach
# every field's validation): (service, method, path, role, body).
def body_routes(w):
    vehicle = {"color": "black", "plate": "KA01 7777", "capacity": 4, "vehicleType": "car"}
    return [
        ("auth", "POST", "/users/register", None,
         {"fullname": {"firstname": "Abuse", "lastname": "Tester"},
          "email": "abuse@example.com", "password": "secret123"}),
        ("auth", "POST", "/captains/register", None,
         {"fullname": {"firstname": "Abuse"}, "email": "abuse-c@example.com",
          "password": "secret123", "vehicle": vehicle}),
        ("auth", "POST", "/users/login", None,
         {"email": w["user"]["email"], "password": "wrong-password"}),
        ("auth", "PATCH", "/users/profile", "user",
         {"fullname": {"firstname": "Renamed"}, "bio": "hi", "profilePic": None}),
        ("auth", "PUT", "/users/password", "user",
         {"currentPassword": "wrong-password", "newPassword": "another123"}),
        ("auth", "POST", "/users/activity", "user", {"action": "visited", "meta": {"k": 1}}),
        ("auth", "PATCH", "/captains/status", "captain", {"status": "active"}),
        ("auth", "POST", "/auth/refresh", None, {"refreshToken": "x" * 43}),
        ("rt", "POST", f"/messages/send/{w['peer']['_id']}", "user", {"text": "hello"}),
        ("rt", "POST", "/rides", "user",
         {"pickup": PICKUP, "destination": DESTINATION, "vehicleType": "car"}),
        ("rt", "POST", f"/rides/{w['ride']}/start", "captain", {"otp": "000000"}),
    ]


def leaves(body, prefix=()):
    """Every field path of a body, nested objects included."""
    for key, value in body.items():
        yield (*prefix, key)
        if isinstance(value, dict) and value:
            yield from leaves(value, (*prefix, key))


def replaced(body, path, value):
    copy = json.loads(json.dumps(body))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copy


# JSON values of the wrong kind for any scalar field, and operator injections.
STRUCTURED = [{"$ne": None}, {"$gt": ""}, ["a"], [], {}]
OTHER = [12345, 1.5, 10**30, True, None, "", "a\x00b", "\U0001f600\u202e" * 100,
         "x" * 100_000]


def send(w, service, method, path, role, **kwargs):
    headers = {**({"user": w["as_user"], "captain": w["as_captain"]}.get(role) or {}),
               **kwargs.pop("headers", {})}
    return requests.request(method, w[service] + path, headers=headers, timeout=30, **kwargs)


def test_wrong_types_in_every_field_are_4xx_and_change_nothing(world):
    w, failures, cases = world, [], 0
    stored = snapshot(w["db"])
    for service, method, path, role, body in body_routes(w):
        for field in leaves(body):
            inside_meta = "meta" in field[:-1]  # free-form client data: any JSON goes
            for value in STRUCTURED + OTHER:
                if field[-1] == "meta" and isinstance(value, dict):
                    continue  # meta is an object: its contents are checked further down
                response = send(w, service, method, path, role,
                                json=replaced(body, field, value))
                cases += 1
                label = f"{method} {path} {'.'.join(field)}={value!r:.40}"
                if response.status_code >= 500:
                    failures.append(f"{label}: {response.status_code}")
                elif value in STRUCTURED and not inside_meta and response.status_code != 400:
                    failures.append(f"{label}: {response.status_code}, expected 400")
                elif response.status_code >= 400:
                    assert_error_shape(response)
                    # (a wrong OTP is counted towards the ride's lockout, by design)
                    if not path.endswith("/start") and snapshot(w["db"]) != stored:
                        failures.append(f"{label}: refused but changed the database")
                stored = snapshot(w["db"]) if response.status_code < 400 else stored
    assert not failures, "\n".join(failures)
    assert cases > 300


def test_operator_injection_in_login_and_every_query_parameter(world):
    w = world
    before = snapshot(w["db"])
    for body in ({"email": {"$ne": None}, "password": {"$ne": None}},
                 {"email": w["user"]["email"], "password": {"$gt": ""}},
                 {"email": {"$regex": ".*"}, "password": "secret123"},
                 {"email": [w["user"]["email"]], "password": "secret123"}):
        for role in ("users", "captains"):
            response = requests.post(f"{w['auth']}/{role}/login", json=body)
            assert response.status_code == 400, (body, response.text)
            assert "token" not in response.text
    queries = [
        ("auth", "/users/activity", "user"), ("rt", "/rides", "user"),
        ("rt", "/rides", "captain"), ("rt", f"/messages/{w['peer']['_id']}", "user"),
        ("rt", "/rides/fare", "user"), ("rt", "/messages/users", "user"),
    ]
    params = ["limit", "before", "status", "pickupLat", "pickupLng", "destinationLat",
              "destinationLng"]
    injections = ["{\"$ne\": null}", "$ne", "'; return true; '"]
    for service, path, role in queries:
        for name in params:
            for value in injections:
                for query in ({name: value}, {f"{name}[$ne]": value}):
                    response = send(w, service, "GET", path, role, params=query)
                    assert response.status_code in (200, 400), (path, query, response.text)
                    if response.status_code == 400:
                        assert_error_shape(response)
                    else:  # the operator-looking key was ignored: only own data came back
                        assert_only_own(w, path, response.json(), role)
    assert snapshot(w["db"]) == before


def assert_only_own(w, path, body, role):
    me = str(w[role]["_id"])
    for ride in body.get("rides", []):
        assert me in (str(ride["user"].get("_id")), str((ride["captain"] or {}).get("_id")))
    for entry in body.get("messages", []):
        assert me in (entry["senderId"], entry["receiverId"])


# (A path past gunicorn's 4,094-byte request line is refused before the app: 414.)
NOT_IDS = ["abc", "0" * 23, "0" * 25, "g" * 24, "$ne", "%24ne", "{}", "null", "-1",
           "%C3%A9" * 12, "a" * 3000, "%00" * 24, "%ED%A0%80", "1e400", "[object Object]"]


def test_path_ids_that_are_not_object_ids_are_400(world):
    w = world
    routes = [("auth", "GET", "/media/{}", None), ("rt", "GET", "/rides/{}", "user"),
              ("rt", "POST", "/rides/{}/accept", "captain"),
              ("rt", "POST", "/rides/{}/start", "captain"),
              ("rt", "POST", "/rides/{}/end", "captain"),
              ("rt", "POST", "/rides/{}/cancel", "user"), ("rt", "GET", "/messages/{}", "user"),
              ("rt", "POST", "/messages/{}/seen", "user"),
              ("rt", "POST", "/messages/send/{}", "user")]
    before = snapshot(w["db"])
    for service, method, template, role in routes:
        for bad in NOT_IDS:
            response = send(w, service, method, template.format(bad), role,
                            json={"text": "x", "otp": "123456"})
            assert response.status_code == 400, (method, template, bad, response.text)
            assert response.json()["errors"][0]["location"] in ("params", "query")
        unknown = send(w, service, method, template.format("0" * 24), role,
                       json={"text": "x", "otp": "123456"})
        # (the captain already has an open ride, which accept checks first)
        expected = 409 if template.endswith("/accept") else 404
        assert unknown.status_code == expected, (template, unknown.text)
    assert snapshot(w["db"]) == before


def test_oversized_bodies_and_images_are_413(world):
    w = world
    before = snapshot(w["db"])
    big = json.dumps({"action": "x", "meta": {"pad": "x" * (MIB + 10)}})
    for service, path, role in [("auth", "/users/activity", "user"),
                                ("auth", "/users/register", None), ("rt", "/rides", "user")]:
        response = send(w, service, "POST", path, role, data=big,
                        headers={"Content-Type": "application/json"})
        assert response.status_code == 413, path
        assert response.json() == {"message": "Request body too large"}
        # the same without a Content-Length: chunked transfer encoding
        chunks = (big[i:i + 65536].encode() for i in range(0, len(big), 65536))
        response = send(w, service, "POST", path, role, data=chunks,
                        headers={"Content-Type": "application/json"})
        assert response.status_code == 413, path
    # image routes take up to 5 MiB of body; past that: 413
    huge_image = data_url(PNG_1PX + b"\x00" * (5 * MIB))
    for service, method, path, role, field in [
            ("auth", "PATCH", "/users/profile", "user", "profilePic"),
            ("rt", "POST", f"/messages/send/{w['peer']['_id']}", "user", "image")]:
        response = send(w, service, method, path, role, json={field: huge_image})
        assert response.status_code == 413, path
    # under the body limit but not an image, or an image type we do not take
    for fake in (b"GIF89a" + b"\x00" * 100, b"<svg onload=alert(1)>", b"\x00" * 1000):
        response = send(w, "auth", "PATCH", "/users/profile", "user",
                        json={"profilePic": data_url(fake)})
        assert response.status_code == 400, fake[:10]
    response = send(w, "auth", "PATCH", "/users/profile", "user",
                    json={"profilePic": "data:image/png;base64," + "!" * 100})
    assert response.status_code == 400
    assert snapshot(w["db"]) == before


def test_deeply_nested_json_and_broken_unicode_are_400(world):
    w = world
    before = snapshot(w["db"])
    bodies = {
        "100k nested arrays": "[" * 100_000 + "]" * 100_000,
        "50k nested objects": '{"a":' * 50_000 + "1" + "}" * 50_000,
        "meta nested 30 deep": json.dumps({"action": "x", "meta": nest(30)}),
        "lone surrogate": '{"action": "\\ud800", "text": "\\udfff", "email": "\\ud800"}',
        "NUL in a meta key": json.dumps({"action": "x", "meta": {"a\x00b": 1}}),
        "meta number past 64 bits": json.dumps({"action": "x", "meta": {"n": 2**64}}),
        "truncated": '{"action": "x", "meta": {',
        "NaN": '{"pickup": {"lat": NaN, "lng": Infinity}}',
        "not an object": '["action", "x"]',
        "bare string": '"hello"',
    }
    targets = [("auth", "/users/activity", "user"), ("auth", "/users/login", None),
               ("rt", f"/messages/send/{w['peer']['_id']}", "user"), ("rt", "/rides", "user")]
    for name, raw in bodies.items():
        for service, path, role in targets:
            response = send(w, service, "POST", path, role, data=raw.encode("utf-8"),
                            headers={"Content-Type": "application/json"})
            assert response.status_code == 400, (name, path, response.text)
            assert_error_shape(response)
    invalid_utf8 = b'{"action": "\xff\xfe"}'
    response = send(w, "auth", "POST", "/users/activity", "user", data=invalid_utf8,
                    headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert snapshot(w["db"]) == before


def nest(depth):
    value = 1
    for _ in range(depth):
        value = {"k": value}
    return value


def test_unicode_and_nul_bytes_round_trip_exactly(world):
    w = world
    names = ["Zoë", "\u0627\u0644\u0639\u0631\u0628\u064a\u0629", "\U0001f697\U0001f695\U0001f68c",
             "e\u0301e\u0301e\u0301", "\u202eevil", "Nul\x00Byte"]
    for name in names:
        response = send(w, "auth", "PATCH", "/users/profile", "user",
                        json={"fullname": {"firstname": name}, "bio": name * 3})
        assert response.status_code in (200, 400), (name, response.text)
        if response.status_code == 200:
            stored = w["db"].users.find_one({"_id": w["user"]["_id"]})
            assert stored["fullname"]["firstname"] == name
            assert response.json()["user"]["fullname"]["firstname"] == name
    text = "zero\x00width\u200b rtl\u202e emoji\U0001f600 combining e\u0301"
    response = send(w, "rt", "POST", f"/messages/send/{w['peer']['_id']}", "user",
                    json={"text": text})
    assert response.status_code == 201
    assert response.json()["newMessage"]["text"] == text
    history = send(w, "rt", "GET", f"/messages/{w['peer']['_id']}", "user").json()
    assert history["messages"][-1]["text"] == text
    # NUL or unicode lookalikes in an email never match another account
    for email in (w["user"]["email"] + "\x00", w["user"]["email"].replace("e", "\u0435")):
        response = requests.post(f"{w['auth']}/users/login",
                                 json={"email": email, "password": "secret123"})
        assert response.status_code in (400, 401)


def test_oversized_headers_are_refused_not_crashed(world):
    w = world
    for service in ("auth", "rt"):
        response = requests.get(f"{w[service]}/rides", headers={
            "Authorization": "Bearer " + "a" * 65536})
        assert 400 <= response.status_code < 500
        response = requests.get(f"{w[service]}/healthz")
        assert response.status_code == 200  # and the process is still serving
    token = base64.b64encode(b"x" * 3000).decode()
    response = send(w, "rt", "GET", "/rides", None, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401

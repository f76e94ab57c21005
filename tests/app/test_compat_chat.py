"""The QuickChat frontend's HTTP traffic replayed against both
in-process apps: requests, fields read and failures exactly as the frontend sends and
reads them (the `token` header, never Authorization). The token header's security
cases are in test_compat_tokens.py."""
import base64

import pytest
from bson import ObjectId

from compat.quickchat import web as quickchat
from shared.accounts import service as account_service
from shared.accounts.schemas import FullnameSchema

from ..auth_api import PNG_1PX
from ..conftest import make_config
from ..factories import make_user, token_for

PNG = "data:image/png;base64," + base64.b64encode(PNG_1PX).decode()  # a real image
USER_FIELDS = {"_id", "email", "fullName", "profilePic", "bio", "createdAt", "updatedAt"}
MESSAGE_FIELDS = {"_id", "senderId", "receiverId", "text", "image", "seen", "createdAt"}


def signup(client, name, email, bio="Hi"):
    return client.post("/api/auth/signup", json={"fullName": name, "email": email,
                                                 "password": "secret123", "bio": bio})


def as_token(token):
    """QuickChat's only credential: the lower-case `token` header."""
    return {"token": token}


def session(client, name, email):
    """Sign up as the frontend does; `(userData, token header)`."""
    body = signup(client, name, email).get_json()
    assert body["success"] is True, body
    return body["userData"], as_token(body["token"])


def test_signup_login_check_and_profile_as_the_frontend(auth_client, db):
    response = signup(auth_client, "Alice Archer", "Alice@Example.com")
    body = response.get_json()
    assert response.status_code == 200 and body["success"] is True
    assert body["message"] == "Account Created successfully..."
    user = body["userData"]
    assert set(user) == USER_FIELDS
    assert user["fullName"] == "Alice Archer" and user["profilePic"] == ""
    assert user["bio"] == "Hi" and user["email"] == "alice@example.com"
    cookie = response.headers.get("Set-Cookie")
    assert cookie.startswith(f"token={body['token']};") and "HttpOnly" in cookie
    assert "password" not in response.get_data(as_text=True)
    stored = db.users.find_one({"_id": ObjectId(user["_id"])})["fullname"]
    assert stored == {"firstname": "Alice", "lastname": "Archer", "display": "Alice Archer"}

    login = auth_client.post("/api/auth/login", json={"email": "alice@example.com",
                                                      "password": "secret123"})
    logged = login.get_json()
    assert login.status_code == 200 and logged["success"] is True
    assert logged["message"] == "Login successfully.." and logged["userData"] == user
    assert login.headers.get("Set-Cookie").startswith(f"token={logged['token']};")

    auth_client.delete_cookie("token")  # the frontend sends only the header
    check = auth_client.get("/api/auth/check", headers=as_token(logged["token"]))
    assert check.status_code == 200
    assert check.get_json() == {"success": True, "user": user}

    updated = auth_client.put("/api/auth/update-profile", headers=as_token(logged["token"]),
                              json={"profilePic": PNG, "fullName": "Alice B. Archer",
                                    "bio": "Edited"})
    result = updated.get_json()
    assert updated.status_code == 200 and result["success"] is True
    assert set(result["user"]) == USER_FIELDS
    assert result["user"]["fullName"] == "Alice B. Archer" and result["user"]["bio"] == "Edited"
    picture = result["user"]["profilePic"]
    assert picture.startswith("/media/") and auth_client.get(picture).status_code == 200
    # Ridewire's own view of the same account.
    own = auth_client.get("/users/profile", headers=as_token(logged["token"])).get_json()
    assert own["user"]["fullname"] == {"firstname": "Alice", "lastname": "B. Archer"}

    # Without a picture (or with an empty one) the picture is kept.
    for body in ({"fullName": "Alice", "bio": ""}, {"fullName": "Alice", "profilePic": ""}):
        kept = auth_client.put("/api/auth/update-profile", headers=as_token(logged["token"]),
                               json=body).get_json()
        assert kept["success"] is True and kept["user"]["profilePic"] == picture
        assert kept["user"]["fullName"] == "Alice"
    assert "lastname" not in db.users.find_one({"_id": ObjectId(user["_id"])})["fullname"]


@pytest.mark.parametrize("name", ["Al", "X", "Alice", "Jo Smith", "Mary Ann Smith", "李",
                                  " Alice  Archer ", "Bob O", "x" * 100, "ab " * 33])
def test_any_non_blank_full_name_is_kept_as_sent(auth_client, db, name):
    user = signup(auth_client, name, "any@example.com").get_json()["userData"]
    assert user["fullName"] == name
    stored = db.users.find_one({"_id": ObjectId(user["_id"])})["fullname"]
    parts = {key: stored[key] for key in ("firstname", "lastname") if key in stored}
    assert FullnameSchema().validate(parts) == {}  # Ridewire's own 3-50 rule holds


def test_split_name_rules():
    assert quickchat.split_name("Alice Archer") == {"firstname": "Alice", "lastname": "Archer"}
    assert quickchat.split_name("Al") == {"firstname": "Al."}
    assert quickchat.split_name("Jo Smith") == {"firstname": "Jo Smith"}
    assert quickchat.split_name("Mary Ann Smith") == {"firstname": "Mary",
                                                      "lastname": "Ann Smith"}
    long = quickchat.split_name("a" * 60 + " b")
    assert long == {"firstname": "a" * 50, "lastname": "a" * 10 + " b"}
    assert quickchat.display_name({"firstname": "Riya", "lastname": "Rider"}) == "Riya Rider"
    assert quickchat.display_name({"firstname": "Riya"}) == "Riya"
    assert quickchat.display_name(None) == ""


def test_a_ridewire_name_change_shows_in_full_name(auth_client):
    _, token = session(auth_client, "Al", "al@example.com")
    assert auth_client.patch("/users/profile", headers=token, json={
        "fullname": {"firstname": "Alfred"}}).status_code == 200
    user = auth_client.get("/api/auth/check", headers=token).get_json()["user"]
    assert user["fullName"] == "Alfred"


def test_account_business_errors_are_200_success_false(auth_client, monkeypatch):
    session(auth_client, "Alice Archer", "alice@example.com")
    full = {"fullName": "Bob", "email": "bob@example.com", "password": "secret123",
            "bio": "Hi"}
    cases = [(signup(auth_client, "Alice", "alice@example.com"), "Account already exists.")]
    for field in full:
        for value in (None, "", "  "):
            body = {**full, field: value} if value is not None else {
                k: v for k, v in full.items() if k != field}
            cases.append((auth_client.post("/api/auth/signup", json=body), "Missing Details"))
    cases += [
        (auth_client.post("/api/auth/signup", json={**full, "email": "nope"}), "Invalid Email"),
        (auth_client.post("/api/auth/signup", json={**full, "password": "12345"}),
         "Password must be at least 6 characters long"),
        (auth_client.post("/api/auth/signup", json={**full, "fullName": "x" * 101}),
         "Full name must be 1-100 characters long"),
        (auth_client.post("/api/auth/signup", data="{", content_type="application/json"),
         "Malformed JSON body"),
        (auth_client.post("/api/auth/login", json={"email": "alice@example.com"}),
         "Missing Details"),
    ]
    for response, message in cases:
        assert response.status_code == 200
        assert response.get_json() == {"success": False, "message": message}

    # An unknown email and a wrong password: the same answer after the same work.
    checks, original = [], account_service.check_password
    monkeypatch.setattr(account_service, "check_password",
                        lambda *args: checks.append(args[1] is not None) or original(*args))
    for email, password in (("alice@example.com", "wrong-password"),
                            ("nobody@example.com", "secret123"), ("bad", "short")):
        response = auth_client.post("/api/auth/login", json={"email": email,
                                                             "password": password})
        assert response.status_code == 200
        assert response.get_json() == {"success": False, "message": "Invalid Credentials"}
    assert checks == [True, False]  # the malformed email never reaches an account


def test_profile_update_failures(auth_client, db):
    _, token = session(auth_client, "Alice Archer", "alice@example.com")
    for body, message in [({"profilePic": "data:image/png;base64,AAAA"},
                           "Image must be a PNG, JPEG or WebP data URL"),
                          ({"fullName": "  "}, "Full name must be 1-100 characters long"),
                          ({"bio": "b" * 501}, "Bio must be at most 500 characters long")]:
        response = auth_client.put("/api/auth/update-profile", headers=token, json=body)
        assert response.status_code == 200
        assert response.get_json() == {"success": False, "message": message}
    anonymous = auth_client.application.test_client()
    for method, path in (("get", "/api/auth/check"), ("put", "/api/auth/update-profile")):
        response = getattr(anonymous, method)(path, json={})
        assert response.status_code == 401
        assert response.get_json() == {"success": False, "message": "Authentication required"}


def sidebar(client, token):
    response = client.get("/api/messages/users", headers=token)
    assert response.status_code == 200
    return response.get_json()


def send(client, token, receiver, **body):
    return client.post(f"/api/messages/send/{receiver['_id']}", headers=token, json=body)


def test_chat_as_the_frontend(auth_client, realtime_client):
    alice, as_alice = session(auth_client, "Alice Archer", "alice@example.com")
    bob, as_bob = session(auth_client, "Bo", "bob@example.com")
    carol, as_carol = session(auth_client, "Carol", "carol@example.com")
    listed = sidebar(realtime_client, as_alice)
    assert listed["success"] is True and listed["unseenMessages"] == {}
    assert {u["_id"]: u["fullName"] for u in listed["users"]} == {bob["_id"]: "Bo",
                                                                 carol["_id"]: "Carol"}
    assert all(set(u) == {"_id", "fullName", "profilePic", "bio"} for u in listed["users"])

    sent = send(realtime_client, as_bob, alice, text="hello alice")
    body = sent.get_json()
    assert sent.status_code == 201 and body["success"] is True
    assert set(body["newMessage"]) == MESSAGE_FIELDS
    assert body["newMessage"]["senderId"] == bob["_id"] and body["newMessage"]["image"] is None
    image = send(realtime_client, as_bob, alice, image=PNG).get_json()["newMessage"]
    assert image["text"] is None and image["image"].startswith("/media/")
    assert auth_client.get(image["image"]).status_code == 200
    for n in range(58):
        send(realtime_client, as_alice if n % 2 else as_bob, bob if n % 2 else alice,
             text=f"m{n}")
    assert sidebar(realtime_client, as_alice)["unseenMessages"] == {bob["_id"]: 31}

    whole = realtime_client.get(f"/api/messages/{bob['_id']}", headers=as_alice)
    found = whole.get_json()
    assert whole.status_code == 200 and found["success"] is True
    assert len(found["messages"]) == 60  # not truncated to Ridewire's page of 50
    assert [m["text"] for m in found["messages"]] == (
        ["hello alice", None] + [f"m{n}" for n in range(58)])
    assert all(set(m) == MESSAGE_FIELDS for m in found["messages"])
    assert sidebar(realtime_client, as_alice)["unseenMessages"] == {}

    live = send(realtime_client, as_carol, alice, text="new").get_json()["newMessage"]
    mark = f"/api/messages/mark/{live['_id']}"
    refused = {"success": False, "message": "Only the receiver can mark a message seen"}
    assert realtime_client.put(mark, headers=as_carol).get_json() == refused
    assert realtime_client.put(mark, headers=as_bob).get_json() == {
        "success": False, "message": "Message not found"}
    assert realtime_client.put(mark, headers=as_alice).get_json() == {"success": True}
    assert sidebar(realtime_client, as_alice)["unseenMessages"] == {}


def test_conversation_is_bounded_by_history_max(auth_client, realtime_client, monkeypatch):
    from compat.quickchat import chat_routes as compat_chat

    alice, as_alice = session(auth_client, "Alice Archer", "alice@example.com")
    bob, as_bob = session(auth_client, "Bob Builder", "bob@example.com")
    for n in range(7):
        send(realtime_client, as_bob, alice, text=f"m{n}")
    monkeypatch.setattr(compat_chat, "HISTORY_MAX", 5)
    found = realtime_client.get(f"/api/messages/{bob['_id']}", headers=as_alice).get_json()
    assert [m["text"] for m in found["messages"]] == [f"m{n}" for n in range(2, 7)]


def test_chat_business_errors_are_200_success_false(auth_client, realtime_client, db):
    alice, as_alice = session(auth_client, "Alice Archer", "alice@example.com")
    nobody = {"_id": str(ObjectId())}
    cases = [
        (send(realtime_client, as_alice, alice, text="me"), "You cannot message yourself"),
        (send(realtime_client, as_alice, nobody, text="hi"), "User not found"),
        (send(realtime_client, as_alice, {"_id": "nope"}, text="hi"), "Invalid id"),
        (send(realtime_client, as_alice, make_user(db), text="  "),
         "A message needs a text or an image"),
        (send(realtime_client, as_alice, make_user(db), image="data:image/png;base64,AAAA"),
         "Image must be a PNG, JPEG or WebP data URL"),
        (realtime_client.get(f"/api/messages/{nobody['_id']}", headers=as_alice),
         "User not found"),
        (realtime_client.put("/api/messages/mark/nope", headers=as_alice), "Invalid id"),
    ]
    for response, message in cases:
        assert response.status_code == 200
        assert response.get_json() == {"success": False, "message": message}
    for method, path in (("get", "/api/messages/users"), ("get", f"/api/messages/{alice['_id']}"),
                         ("post", f"/api/messages/send/{alice['_id']}")):
        response = getattr(realtime_client, method)(path, json={"text": "x"},
                                                   headers=as_token("bad"))
        assert response.status_code == 401
        assert response.get_json() == {"success": False, "message": "Invalid token"}


def test_public_url_makes_compat_media_urls_absolute(mongo_uri, db):
    from auth_service.app import create_app as auth_app
    from realtime_service.app import create_app as realtime_app

    config = make_config(mongo_uri, PUBLIC_URL="https://chat.example.com")
    auth, realtime = auth_app(config).test_client(), realtime_app(config).test_client()
    alice, as_alice = session(auth, "Alice Archer", "alice@example.com")
    bob, as_bob = session(auth, "Bob Builder", "bob@example.com")
    pic = auth.put("/api/auth/update-profile", headers=as_bob,
                   json={"profilePic": PNG}).get_json()["user"]["profilePic"]
    assert pic.startswith("https://chat.example.com/media/")
    assert auth.get(pic.removeprefix("https://chat.example.com")).status_code == 200
    assert sidebar(realtime, as_alice)["users"][0]["profilePic"] == pic
    image = send(realtime, as_bob, alice, image=PNG).get_json()["newMessage"]["image"]
    assert image.startswith("https://chat.example.com/media/")
    # Ridewire's own routes keep the relative URL.
    own = realtime.get(f"/messages/{bob['_id']}", headers=as_alice).get_json()
    assert own["messages"][0]["image"] == image.removeprefix("https://chat.example.com")


def test_compat_routes_off(mongo_uri, db):
    from auth_service.app import create_app as auth_app
    from realtime_service.app import create_app as realtime_app

    config = make_config(mongo_uri, COMPAT_ROUTES=False)
    auth, realtime = auth_app(config).test_client(), realtime_app(config).test_client()
    user = make_user(db)
    assert auth.get("/api/auth/check", headers=as_token(token_for(user))).status_code == 404
    assert realtime.get("/api/messages/users").status_code == 404
    # and the `token` header is not read: the native API knows only Bearer and the cookie
    assert auth.get("/users/profile", headers=as_token(token_for(user))).status_code == 401
    spec = auth.get("/openapi.json").get_json()
    assert not [path for path in spec["paths"] if path.startswith("/api/")]

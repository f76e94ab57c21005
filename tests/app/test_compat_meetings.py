"""The video-meeting frontend's HTTP traffic against both in-process apps, sent and read
as the frontend does: /api/v1/users/register and /login (auth service), its token in
the body of /add_to_activity and the query of /get_all_activity (realtime service),
and nowhere else; its history from the calls domain's call history."""
from datetime import UTC, datetime, timedelta

import pytest
from bson import ObjectId

from realtime_service.calls import call_history
from shared.accounts.schemas import FullnameSchema

from ..factories import PASSWORD, make_user, token_for

USERS = "/api/v1/users"


def register(client, username, name="Alice Archer", password=PASSWORD):
    return client.post(f"{USERS}/register", json={"name": name, "username": username,
                                                  "password": password})


def login(client, username, password=PASSWORD):
    return client.post(f"{USERS}/login", json={"username": username, "password": password})


def signed_in(auth_client, username):
    """Register and log in as the frontend does; the token it keeps in localStorage."""
    assert register(auth_client, username).status_code == 201
    return login(auth_client, username).get_json()["token"]


def record_join(app, account_id, room, kind="meeting", joined_at=None):
    """A join of the calls domain's history, as a socket's join records it."""
    call = {"_id": ObjectId(), "key": room, "kind": kind}
    with app.app_context():
        call_history.record_join(account_id, call, "sid-" + room,
                                 joined_at or datetime.now(UTC))


# Accounts.

def test_register_answers_201_and_stores_a_reserved_email(auth_client, db):
    response = register(auth_client, "Alice_1", name="Al")
    assert response.status_code == 201
    assert response.get_json() == {"message": "User Registered"}
    assert "Set-Cookie" not in response.headers  # no session: the frontend logs in next
    stored = db.users.find_one({"email": "alice_1@meetings.invalid"})
    assert stored["fullname"] == {"firstname": "Al.", "display": "Al"}
    parts = {key: stored["fullname"][key] for key in ("firstname", "lastname")
             if key in stored["fullname"]}
    assert FullnameSchema().validate(parts) == {}
    assert stored["password"] != PASSWORD


def test_a_taken_username_whatever_its_case_is_a_conflict(auth_client):
    assert register(auth_client, "bob").status_code == 201
    again = register(auth_client, "BOB")
    assert again.status_code == 409
    assert again.get_json() == {"message": "User already exists"}


@pytest.mark.parametrize("body, message", [
    ({"name": "A", "username": "alice"}, "Please provide name, username, password"),
    ({"name": " ", "username": "alice", "password": PASSWORD},
     "Please provide name, username, password"),
    ({"name": "A", "username": "a b", "password": PASSWORD},
     "Username must be 3-30 letters, digits, dots, dashes or underscores, starting and "
     "ending with no dot"),
    ({"name": "A", "username": "alice@example.com", "password": PASSWORD},
     "Username must be 3-30 letters, digits, dots, dashes or underscores, starting and "
     "ending with no dot"),
    ({"name": "A", "username": "al..ice", "password": PASSWORD},
     "Username must be 3-30 letters, digits, dots, dashes or underscores, starting and "
     "ending with no dot"),
    ({"name": "A", "username": "alice", "password": "12345"},
     "Password must be at least 6 characters long"),
])
def test_register_refusals_are_400_with_a_message(auth_client, body, message):
    response = auth_client.post(f"{USERS}/register", json=body)
    assert response.status_code == 400
    assert response.get_json() == {"message": message}


def test_login_answers_a_token_and_the_cookie(auth_client, realtime_app):
    register(auth_client, "carol")
    response = login(auth_client, "Carol")
    body = response.get_json()
    assert response.status_code == 200 and set(body) == {"token"}
    cookie = response.headers.get("Set-Cookie")
    assert cookie.startswith(f"token={body['token']};") and "HttpOnly" in cookie
    # A Ridewire access token: it works as a Bearer token on Ridewire's own routes.
    auth_client.delete_cookie("token")
    profile = auth_client.get("/users/profile",
                              headers={"Authorization": f"Bearer {body['token']}"})
    assert profile.status_code == 200
    assert profile.get_json()["user"]["email"] == "carol@meetings.invalid"


def test_unknown_username_and_wrong_password_are_the_same_401(auth_client):
    register(auth_client, "dave")
    for username, password in (("dave", "wrong-password"), ("nobody", PASSWORD),
                               ("not a username", PASSWORD)):
        response = login(auth_client, username, password)
        assert response.status_code == 401
        assert response.get_json() == {"message": "Invalid Username or password"}
    missing = auth_client.post(f"{USERS}/login", json={"username": "dave"})
    assert missing.status_code == 400
    assert missing.get_json() == {"message": "Please provide username, password"}


def test_a_ridewire_account_logs_in_with_its_email(auth_client, db):
    user = make_user(db)
    response = login(auth_client, user["email"].upper())
    assert response.status_code == 200 and response.get_json()["token"]


def test_the_reserved_domain_is_refused_by_ridewire_s_own_routes(auth_client):
    register(auth_client, "erin")
    own = auth_client.post("/users/login", json={"email": "erin@meetings.invalid",
                                                 "password": PASSWORD})
    assert own.status_code == 400
    taken = auth_client.post("/users/register", json={
        "fullname": {"firstname": "Erin"}, "email": "erin@meetings.invalid",
        "password": PASSWORD})
    assert taken.status_code == 400


# The token in bodies and queries: on these routes only.

def test_add_to_activity_takes_the_token_in_the_body(auth_client, realtime_app):
    token = signed_in(auth_client, "frank")
    client = realtime_app.test_client()
    response = client.post(f"{USERS}/add_to_activity",
                           json={"token": token, "meeting_code": "aljk23"})
    assert response.status_code == 200 and set(response.get_json()) == {"message"}
    for body in ({"meeting_code": "aljk23"}, {"token": None, "meeting_code": "aljk23"},
                 {"token": "not-a-token", "meeting_code": "aljk23"}):
        refused = client.post(f"{USERS}/add_to_activity", json=body)
        assert refused.status_code == 401 and set(refused.get_json()) == {"message"}


@pytest.mark.parametrize("code, message", [
    ("", "A meeting code is 1-64 printable characters without /"),
    ("a/b", "A meeting code is 1-64 printable characters without /"),
    ("x" * 65, "A meeting code is 1-64 printable characters without /"),
    ("History", "/History is a page of the app, not a meeting: choose another code"),
])
def test_add_to_activity_refuses_what_cannot_be_a_meeting(realtime_app, db, code, message):
    token = token_for(make_user(db))
    response = realtime_app.test_client().post(
        f"{USERS}/add_to_activity", json={"token": token, "meeting_code": code})
    assert response.status_code == 400 and response.get_json() == {"message": message}


def test_the_body_or_query_token_is_read_by_these_routes_only(auth_client, realtime_app, db):
    token = token_for(make_user(db))
    client = realtime_app.test_client()
    assert client.get(f"/calls/history?token={token}").status_code == 401
    assert client.post("/rides", json={"token": token}).status_code == 401
    assert client.get(f"/api/messages/users?token={token}").status_code == 401
    assert auth_client.get(f"/users/profile?token={token}").status_code == 401
    assert client.get(f"{USERS}/get_all_activity?token={token}").status_code == 200


def test_a_header_wins_over_the_body_token(realtime_app, db):
    alice, bob = make_user(db), make_user(db)
    record_join(realtime_app, bob["_id"], "meeting:bobs")
    answer = realtime_app.test_client().get(
        f"{USERS}/get_all_activity?token={token_for(alice)}",
        headers={"Authorization": f"Bearer {token_for(bob)}"})
    assert [entry["meetingCode"] for entry in answer.get_json()] == ["bobs"]


def test_logout_everywhere_revokes_the_frontend_s_token(auth_client, realtime_app):
    token = signed_in(auth_client, "grace")
    client = realtime_app.test_client()
    assert client.get(f"{USERS}/get_all_activity?token={token}").status_code == 200
    assert auth_client.post("/users/logout-all",
                            headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.get(f"{USERS}/get_all_activity?token={token}").status_code == 401
    assert client.post(f"{USERS}/add_to_activity",
                       json={"token": token, "meeting_code": "x"}).status_code == 401


# History.

def test_history_lists_every_meeting_join_oldest_first(auth_client, realtime_app, db):
    token = signed_in(auth_client, "heidi")
    me = db.users.find_one({"email": "heidi@meetings.invalid"})
    start = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
    for n, room in enumerate(("meeting:first", "meeting:second", "meeting:first")):
        record_join(realtime_app, me["_id"], room, joined_at=start + timedelta(hours=n))
    record_join(realtime_app, me["_id"], "ride:" + "a" * 24, kind="ride")
    record_join(realtime_app, make_user(db)["_id"], "meeting:other")
    response = realtime_app.test_client().get(f"{USERS}/get_all_activity",
                                              query_string={"token": token})
    history = response.get_json()
    assert response.status_code == 200 and isinstance(history, list)
    assert [entry["meetingCode"] for entry in history] == ["first", "second", "first"]
    assert set(history[0]) == {"_id", "user_id", "meetingCode", "date"}
    assert history[0]["user_id"] == "heidi"
    assert history[0]["date"] == "2025-03-01T09:30:00.000Z"
    assert len({entry["_id"] for entry in history}) == 3


def test_history_of_a_ridewire_account_and_by_the_cookie(realtime_app, db):
    user = make_user(db)
    record_join(realtime_app, user["_id"], "meeting:Team Call")
    client = realtime_app.test_client()
    client.set_cookie("token", token_for(user))
    history = client.get(f"{USERS}/get_all_activity").get_json()
    assert [(entry["user_id"], entry["meetingCode"]) for entry in history] == [
        (user["email"], "Team Call")]
    assert realtime_app.test_client().get(f"{USERS}/get_all_activity").status_code == 401

"""Activity history: recorded by the service, posted by the client, paged, private."""
import pytest

from ..auth_api import PASSWORD, bearer, register


def listing(client, token, **query):
    response = client.get("/users/activity", headers=bearer(token), query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_service_records_register_login_logout_and_password_change(auth_client):
    user = register(auth_client)
    login = auth_client.post("/users/login", json={"email": user["email"],
                                                   "password": PASSWORD}).get_json()
    auth_client.post("/users/logout", headers=bearer(login["token"]))
    changed = auth_client.put("/users/password", headers=bearer(user["token"]), json={
        "currentPassword": PASSWORD, "newPassword": "another-1"}).get_json()
    auth_client.post("/users/logout-all", headers=bearer(changed["token"]))
    fresh = auth_client.post("/users/login", json={"email": user["email"],
                                                   "password": "another-1"}).get_json()
    page = listing(auth_client, fresh["token"])
    assert [a["action"] for a in page["activities"]] == [
        "login", "logout-all", "password-change", "logout", "login", "register"]
    assert page["next"] is None
    entry = page["activities"][0]
    assert set(entry) == {"_id", "action", "meta", "source", "createdAt"}
    assert entry["source"] == "server"


def test_client_activity_and_cursor_paging(auth_client):
    captain = register(auth_client, "captain")
    headers = bearer(captain["token"])
    for n in range(5):
        response = auth_client.post("/captains/activity", headers=headers, json={
            "action": "visited-place", "meta": {"n": n, "place": {"lat": 12.9, "lng": 77.6}}})
        assert response.status_code == 201
    posted = response.get_json()["activity"]
    assert posted["source"] == "client" and posted["meta"]["n"] == 4

    seen, before = [], None
    while True:
        query = {"limit": 2, **({"before": before} if before else {})}
        page = auth_client.get("/captains/activity", headers=headers,
                               query_string=query).get_json()
        assert len(page["activities"]) <= 2
        seen += page["activities"]
        before = page["next"]
        if before is None:
            break
    assert [a["meta"].get("n") for a in seen] == [4, 3, 2, 1, 0, None]
    assert seen[-1]["action"] == "register"
    assert len({a["_id"] for a in seen}) == 6


def test_activity_is_only_ever_the_callers_own(auth_client):
    alice, bob = register(auth_client), register(auth_client)
    auth_client.post("/users/activity", headers=bearer(alice["token"]),
                     json={"action": "secret-trip"})
    bob_page = listing(auth_client, bob["token"])
    assert [a["action"] for a in bob_page["activities"]] == ["register"]
    # A cursor taken from Alice's history shows Bob nothing of hers.
    alice_first = listing(auth_client, alice["token"], limit=1)
    page = listing(auth_client, bob["token"], before="f" * 24)
    assert all(a["action"] != "secret-trip" for a in page["activities"])
    assert alice_first["activities"][0]["action"] == "secret-trip"
    # A captain's history is separate from a user's with the same id space.
    captain = register(auth_client, "captain")
    page = auth_client.get("/captains/activity", headers=bearer(captain["token"])).get_json()
    assert [a["action"] for a in page["activities"]] == ["register"]


@pytest.mark.parametrize("query, param", [({"limit": 0}, "limit"), ({"limit": 101}, "limit"),
                                          ({"limit": "many"}, "limit"),
                                          ({"before": "nope"}, "before")])
def test_activity_query_validation(auth_client, query, param):
    user = register(auth_client)
    response = auth_client.get("/users/activity", headers=bearer(user["token"]),
                               query_string=query)
    assert response.status_code == 400
    error = response.get_json()["errors"][0]
    assert error["param"] == param and error["location"] == "query"


def test_activity_limit_bounds_and_default(auth_client):
    user = register(auth_client)
    for n in range(22):
        auth_client.post("/users/activity", headers=bearer(user["token"]),
                         json={"action": f"a{n}"})
    assert len(listing(auth_client, user["token"])["activities"]) == 20
    assert len(listing(auth_client, user["token"], limit=100)["activities"]) == 23
    assert len(listing(auth_client, user["token"], limit=1)["activities"]) == 1


@pytest.mark.parametrize("body, param", [
    ({}, "action"), ({"action": ""}, "action"), ({"action": "x" * 101}, "action"),
    ({"action": "x", "meta": "text"}, "meta"), ({"action": "x", "meta": {"$set": 1}}, "meta"),
    ({"action": "x", "meta": {"a": [{"b.c": 1}]}}, "meta"),
    ({"action": "x", "meta": {"big": "y" * 5000}}, "meta"),
])
def test_activity_body_validation(auth_client, body, param):
    user = register(auth_client)
    response = auth_client.post("/users/activity", headers=bearer(user["token"]), json=body)
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["param"] == param

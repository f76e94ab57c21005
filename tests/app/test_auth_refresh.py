"""Refresh tokens: rotation, reuse detection, expiry, storage."""
import hashlib
from datetime import timedelta

from shared.serialize import now

from ..auth_api import bearer, register


def refresh(client, token):
    return client.post("/auth/refresh", json={"refreshToken": token})


def test_refresh_rotates_and_the_new_access_token_works(auth_client):
    user = register(auth_client)
    response = refresh(auth_client, user["refreshToken"])
    assert response.status_code == 200
    data = response.get_json()
    assert set(data) == {"token", "refreshToken"}
    assert data["refreshToken"] != user["refreshToken"] and data["token"] != user["token"]
    assert "token=" + data["token"] in response.headers["Set-Cookie"]
    profile = auth_client.get("/users/profile", headers=bearer(data["token"]))
    assert profile.get_json()["user"]["_id"] == user["user"]["_id"]
    # The chain goes on: the new one works once too.
    assert refresh(auth_client, data["refreshToken"]).status_code == 200


def test_captain_refresh_issues_captain_tokens(auth_client):
    captain = register(auth_client, "captain")
    data = refresh(auth_client, captain["refreshToken"]).get_json()
    assert auth_client.get("/captains/profile", headers=bearer(data["token"])).status_code == 200


def test_reusing_a_spent_token_revokes_the_whole_family(auth_client):
    user = register(auth_client)
    other_login = auth_client.post("/users/login", json={"email": user["email"],
                                                         "password": user["password"]})
    first = refresh(auth_client, user["refreshToken"]).get_json()
    second = refresh(auth_client, first["refreshToken"]).get_json()
    # The spent first token comes back (stolen copy): 401, and the family dies.
    response = refresh(auth_client, user["refreshToken"])
    assert response.status_code == 401
    assert "reuse" in response.get_json()["message"]
    assert refresh(auth_client, second["refreshToken"]).status_code == 401
    for token in (user["token"], first["token"], second["token"]):
        assert auth_client.get("/users/profile", headers=bearer(token)).status_code == 401
    # Another login (another family) is untouched.
    other = other_login.get_json()
    assert auth_client.get("/users/profile", headers=bearer(other["token"])).status_code == 200
    assert refresh(auth_client, other["refreshToken"]).status_code == 200


def test_refresh_tokens_are_stored_only_as_hashes(auth_client, db):
    user = register(auth_client)
    stored = db.refresh_tokens.find_one()
    assert stored["hash"] == hashlib.sha256(user["refreshToken"].encode()).hexdigest()
    assert user["refreshToken"] not in str(stored)
    lifetime = stored["expiresAt"] - stored["createdAt"]
    assert abs(lifetime - timedelta(days=30)) < timedelta(seconds=1)
    ttl = {ix["name"]: ix for ix in db.refresh_tokens.list_indexes()}["expiresAt_1"]
    assert ttl["expireAfterSeconds"] == 0


def test_expired_refresh_token_is_refused(auth_client, db):
    user = register(auth_client)
    db.refresh_tokens.update_many({}, {"$set": {"expiresAt": now() - timedelta(seconds=1)}})
    response = refresh(auth_client, user["refreshToken"])
    assert response.status_code == 401
    assert response.get_json() == {"message": "Invalid refresh token"}


def test_bad_refresh_requests(auth_client):
    response = auth_client.post("/auth/refresh", json={})
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["param"] == "refreshToken"
    assert refresh(auth_client, "made-up-token").status_code == 401
    assert refresh(auth_client, "").status_code == 401
    assert auth_client.post("/auth/refresh", json={"refreshToken": 12}).status_code == 400
    user = register(auth_client)
    # An access token is not a refresh token.
    assert refresh(auth_client, user["token"]).status_code == 401


def test_refresh_for_a_deleted_account_is_refused(auth_client, db):
    user = register(auth_client)
    db.users.delete_many({})
    assert refresh(auth_client, user["refreshToken"]).status_code == 401

"""The compatible credentials of shared.accounts.tokens: QuickChat's `token` header counts as
`Authorization: Bearer` on every authenticated route with every check of it, and a
placeholder Bearer (`null`, `undefined`, empty) falls back to the `token` cookie.
(test_token_attacks.py sends every forged token through the header too.)"""
import time

import pytest

from ..factories import make_captain, make_user, token_for
from ..hardening.forge import claims, sign

ROUTES = [("auth", "/api/auth/check"), ("auth", "/users/profile"),
          ("realtime", "/api/messages/users"), ("realtime", "/messages/users"),
          ("realtime", "/rides")]


@pytest.fixture
def clients(auth_client, realtime_client):
    return {"auth": auth_client, "realtime": realtime_client}


def test_token_header_works_on_every_authenticated_route(clients, db):
    token = token_for(make_user(db))
    for service, path in ROUTES:
        assert clients[service].get(path, headers={"token": token}).status_code == 200, path
        assert clients[service].get(path, headers={"token": f" {token} "}).status_code == 200


def test_bad_expired_revoked_and_wrong_role_tokens_are_refused(clients, auth_client, db):
    user, other = make_user(db), make_user(db)
    captain = make_captain(db)
    now = int(time.time())
    revoked = token_for(other)
    assert auth_client.post("/users/logout", headers={"token": revoked}).status_code == 200
    refused = {
        "garbage": "not-a-jwt",
        "two words": "a b",
        "a Bearer inside": f"Bearer {token_for(user)}",
        "wrong key": sign(claims(user), key="not-the-secret"),
        "expired": sign(claims(user, iat=now - 7200, nbf=now - 7200, exp=now - 60)),
        "revoked": revoked,
        "of a deleted account": token_for({"_id": captain["_id"], "tokenVersion": 0}, "user"),
    }
    for name, token in refused.items():
        for service, path in ROUTES:
            response = clients[service].get(path, headers={"token": token})
            assert response.status_code == 401, (name, path)
            assert "message" in response.get_json()
    as_captain = {"token": token_for(captain, "captain")}
    for service, path in (("auth", "/api/auth/check"), ("auth", "/users/profile"),
                          ("realtime", "/rides/fare")):
        response = clients[service].get(path, headers=as_captain)
        assert response.status_code == 403, path
    assert clients["auth"].get("/api/auth/check", headers=as_captain).get_json()[
        "success"] is False
    assert clients["auth"].get("/captains/profile", headers=as_captain).status_code == 200


def test_authorization_wins_over_the_token_header(auth_client, db):
    user = make_user(db)
    good, bad = token_for(user), "not-a-jwt"
    assert auth_client.get("/users/profile", headers={
        "Authorization": f"Bearer {good}", "token": bad}).status_code == 200
    assert auth_client.get("/users/profile", headers={
        "Authorization": f"Bearer {bad}", "token": good}).status_code == 401
    # A wrong scheme is still an Authorization header: not replaced by the token header.
    assert auth_client.get("/users/profile", headers={
        "Authorization": f"Token {good}", "token": good}).status_code == 401


@pytest.mark.parametrize("placeholder", ["Bearer null", "Bearer undefined", "Bearer", "",
                                         "Bearer  null "])
def test_placeholder_bearer_falls_back_to_the_cookie(auth_client, db, placeholder):
    user = make_user(db)
    headers = {"Authorization": placeholder}
    assert auth_client.get("/users/profile", headers=headers).status_code == 401
    auth_client.set_cookie("token", token_for(user))
    response = auth_client.get("/users/profile", headers=headers)
    assert response.status_code == 200 and response.get_json()["user"]["_id"] == str(user["_id"])
    # ... and a placeholder plus the token header uses the header
    other = make_user(db)
    both = auth_client.get("/users/profile", headers={**headers, "token": token_for(other)})
    assert both.get_json()["user"]["_id"] == str(other["_id"])


def test_captain_logout_with_bearer_null_revokes_the_cookie_session(auth_client, db):
    captain = make_captain(db)
    login = auth_client.post("/captains/login", json={"email": captain["email"],
                                                      "password": "secret123"})
    token = login.get_json()["token"]
    assert auth_client.get("/captains/logout",
                           headers={"Authorization": "Bearer null"}).status_code == 200
    assert auth_client.get("/captains/profile",
                           headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_null_token_header_is_no_credential(auth_client, db):
    auth_client.set_cookie("token", token_for(make_user(db)))
    for value in ("null", "undefined", ""):
        assert auth_client.get("/users/profile", headers={"token": value}).status_code == 200


def test_compat_paths_answer_the_preflight_of_the_token_header(clients):
    origin = "http://localhost:5173"  # a default CORS origin
    for service, path in (("auth", "/api/auth/check"), ("auth", "/api/auth/update-profile"),
                          ("realtime", "/api/messages/users"),
                          ("realtime", f"/api/messages/send/{'a' * 24}")):
        response = clients[service].options(path, headers={
            "Origin": origin, "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type,token"})
        assert response.status_code == 200, path
        assert response.headers["Access-Control-Allow-Origin"] == origin
        allowed = response.headers["Access-Control-Allow-Headers"].lower()
        assert "token" in allowed.split(", "), allowed

"""Access tokens: where they are read from, which ones are refused, and revocation by
logout, logout-all and password change."""
import base64
import json
import time
import uuid
from datetime import UTC, datetime

import jwt as pyjwt
import pytest

from shared.config import TestingConfig

from ..auth_api import PASSWORD, bearer, register

SECRET = TestingConfig.JWT_SECRET_KEY


def claims_of(token):
    return pyjwt.decode(token, SECRET, algorithms=["HS256"])


def sign(claims, secret=SECRET, algorithm="HS256"):
    return pyjwt.encode(claims, secret, algorithm=algorithm)


def b64(data):
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_access_token_claims(auth_client):
    user = register(auth_client)
    claims = claims_of(user["token"])
    assert claims["sub"] == user["user"]["_id"]
    assert claims["role"] == "user" and claims["type"] == "access" and claims["jti"]
    assert claims["exp"] - claims["iat"] == 7 * 24 * 3600
    captain = claims_of(register(auth_client, "captain")["token"])
    assert captain["role"] == "captain" and captain["exp"] - captain["iat"] == 24 * 3600


def test_token_in_header_or_cookie(auth_client):
    user = register(auth_client)
    assert auth_client.get("/users/profile", headers=bearer(user["token"])).status_code == 200
    auth_client.delete_cookie("token")
    assert auth_client.get("/users/profile").status_code == 401
    auth_client.set_cookie("token", user["token"])
    response = auth_client.get("/users/profile")
    assert response.status_code == 200
    # COMPAT_ROUTES (the default) also puts the fields at the top level.
    assert response.get_json() == {**user["user"], "user": user["user"]}


def test_login_sets_http_only_cookie_used_by_later_requests(auth_client):
    user = register(auth_client)
    auth_client.delete_cookie("token")
    response = auth_client.post("/users/login", json={"email": user["email"].upper(),
                                                        "password": PASSWORD})
    assert response.status_code == 200
    assert set(response.get_json()) == {"user", "token", "refreshToken"}
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("token=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert auth_client.get("/users/profile").get_json()["user"]["_id"] == user["user"]["_id"]


def test_wrong_role_is_403_and_missing_token_401(auth_client):
    user, captain = register(auth_client), register(auth_client, "captain")
    auth_client.delete_cookie("token")
    assert auth_client.get("/captains/profile", headers=bearer(user["token"])).status_code == 403
    assert auth_client.get("/users/profile", headers=bearer(captain["token"])).status_code == 403
    assert auth_client.patch("/captains/status", headers=bearer(user["token"]),
                             json={"status": "active"}).status_code == 403
    response = auth_client.get("/users/profile")
    assert response.status_code == 401 and response.get_json()["message"]
    response = auth_client.get("/users/profile", headers={"Authorization": "Token abc"})
    assert response.status_code == 401


def forged_tokens(user):
    claims = claims_of(user["token"])
    now = int(time.time())
    header, payload, signature = user["token"].split(".")
    as_captain = b64({**claims, "role": "captain"})
    return {
        "expired": sign({**claims, "iat": now - 100, "nbf": now - 100, "exp": now - 10}),
        "tampered": f"{header}.{as_captain}.{signature}",
        "alg none": f"{b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.",
        "wrong secret": sign(claims, secret="another-secret-of-enough-length-123456"),
        "refresh type": sign({**claims, "type": "refresh"}),
        "no jti": sign({k: v for k, v in claims.items() if k != "jti"}),
        "unknown role": sign({**claims, "role": "admin"}),
        "unknown account": sign({**claims, "sub": "0" * 24}),
        "garbage": "not.a.jwt",
        "refresh token": user["refreshToken"],
    }


@pytest.mark.parametrize("kind", ["expired", "tampered", "alg none", "wrong secret",
                                  "refresh type", "no jti", "unknown role", "unknown account",
                                  "garbage", "refresh token"])
def test_bad_tokens_are_refused_in_header_and_cookie(auth_client, kind):
    user = register(auth_client)
    token = forged_tokens(user)[kind]
    auth_client.delete_cookie("token")
    response = auth_client.get("/users/profile", headers=bearer(token))
    assert response.status_code == 401, kind
    assert set(response.get_json()) == {"message"}
    auth_client.set_cookie("token", token)
    assert auth_client.get("/users/profile").status_code == 401
    if kind == "expired":
        assert response.get_json()["message"] == "Token has expired"


ROUTES = [("get", "/users/profile", None), ("patch", "/users/profile", {"bio": "x"}),
          ("post", "/users/logout", None), ("get", "/users/logout", None),
          ("post", "/users/logout-all", None), ("get", "/users/activity", None),
          ("post", "/users/activity", {"action": "x"}),
          ("put", "/users/password", {"currentPassword": PASSWORD, "newPassword": "n3wsecret"})]


@pytest.mark.parametrize("method", ["post", "get"])
def test_logout_blacklists_the_token_until_its_expiry(auth_client, db, method):
    user = register(auth_client)
    other_session = auth_client.post("/users/login", json={"email": user["email"],
                                                           "password": PASSWORD}).get_json()
    response = getattr(auth_client, method)("/users/logout", headers=bearer(user["token"]))
    assert response.status_code == 200
    assert response.get_json() == {"message": "Logged out successfully"}
    assert "token=;" in response.headers["Set-Cookie"]
    claims = claims_of(user["token"])
    entry = db.blacklisted_tokens.find_one({"jti": claims["jti"]})
    assert entry["expiresAt"] == datetime.fromtimestamp(claims["exp"], UTC)
    assert entry["sub"] == user["user"]["_id"] and entry["role"] == "user"
    ttl = {ix["name"]: ix for ix in db.blacklisted_tokens.list_indexes()}["expiresAt_1"]
    assert ttl["expireAfterSeconds"] == 0
    for verb, path, body in ROUTES:
        response = getattr(auth_client, verb)(path, headers=bearer(user["token"]), json=body)
        assert response.status_code == 401, path
        assert response.get_json() == {"message": "Token has been revoked"}
    # Logout ends this session only.
    assert auth_client.get("/users/profile",
                           headers=bearer(other_session["token"])).status_code == 200


def test_logout_revokes_the_session_refresh_token_and_the_one_in_the_body(auth_client):
    user = register(auth_client)
    second = auth_client.post("/users/login", json={"email": user["email"],
                                                    "password": PASSWORD}).get_json()
    third = auth_client.post("/users/login", json={"email": user["email"],
                                                   "password": PASSWORD}).get_json()
    response = auth_client.post("/users/logout", headers=bearer(second["token"]),
                                json={"refreshToken": third["refreshToken"]})
    assert response.status_code == 200
    for refresh in (second["refreshToken"], third["refreshToken"]):
        assert auth_client.post("/auth/refresh",
                                json={"refreshToken": refresh}).status_code == 401
    assert auth_client.post("/auth/refresh",
                            json={"refreshToken": user["refreshToken"]}).status_code == 200


def test_logout_cannot_revoke_another_accounts_refresh_token(auth_client):
    alice, bob = register(auth_client), register(auth_client)
    auth_client.post("/users/logout", headers=bearer(alice["token"]),
                     json={"refreshToken": bob["refreshToken"]})
    assert auth_client.post("/auth/refresh",
                            json={"refreshToken": bob["refreshToken"]}).status_code == 200


def test_logout_all_revokes_every_session(auth_client, db):
    captain = register(auth_client, "captain")
    second = auth_client.post("/captains/login", json={"email": captain["email"],
                                                       "password": PASSWORD}).get_json()
    before = db.captains.find_one({"email": captain["email"]})
    response = auth_client.post("/captains/logout-all", headers=bearer(second["token"]))
    assert response.status_code == 200 and response.get_json()["message"]
    after = db.captains.find_one({"email": captain["email"]})
    assert after["tokenVersion"] == before["tokenVersion"] + 1
    assert after["tokensRevokedAt"] is not None
    for session in (captain, second):
        assert auth_client.get("/captains/profile",
                               headers=bearer(session["token"])).status_code == 401
        assert auth_client.post("/auth/refresh", json={
            "refreshToken": session["refreshToken"]}).status_code == 401
    fresh = auth_client.post("/captains/login", json={"email": captain["email"],
                                                      "password": PASSWORD}).get_json()
    assert auth_client.get("/captains/profile", headers=bearer(fresh["token"])).status_code == 200


def test_password_change_revokes_other_sessions_and_continues_this_one(auth_client, db):
    user = register(auth_client)
    other = auth_client.post("/users/login", json={"email": user["email"],
                                                   "password": PASSWORD}).get_json()
    response = auth_client.put("/users/password", headers=bearer(user["token"]),
                               json={"currentPassword": PASSWORD, "newPassword": "brand-new-1"})
    assert response.status_code == 200
    data = response.get_json()
    assert {"user", "token", "refreshToken", "message"} == set(data)
    assert "token=" + data["token"] in response.headers["Set-Cookie"]
    assert db.users.find_one({"email": user["email"]})["tokensRevokedAt"] is not None
    for session in (user, other):
        assert auth_client.get("/users/profile",
                               headers=bearer(session["token"])).status_code == 401
        assert auth_client.post("/auth/refresh", json={
            "refreshToken": session["refreshToken"]}).status_code == 401
    assert auth_client.get("/users/profile", headers=bearer(data["token"])).status_code == 200
    assert auth_client.post("/auth/refresh",
                            json={"refreshToken": data["refreshToken"]}).status_code == 200
    login = {"email": user["email"], "password": PASSWORD}
    assert auth_client.post("/users/login", json=login).status_code == 401
    login["password"] = "brand-new-1"
    assert auth_client.post("/users/login", json=login).status_code == 200


def test_password_change_failures(auth_client):
    user = register(auth_client)
    headers = bearer(user["token"])
    response = auth_client.put("/users/password", headers=headers,
                               json={"currentPassword": "wrong-one", "newPassword": "brand-new"})
    assert response.status_code == 400
    assert response.get_json()["errors"] == [{"msg": "Current password is incorrect",
                                              "param": "currentPassword", "location": "body"}]
    response = auth_client.put("/users/password", headers=headers, json={
        "currentPassword": PASSWORD, "newPassword": PASSWORD})
    assert response.get_json()["errors"][0]["param"] == "newPassword"
    response = auth_client.put("/users/password", headers=headers, json={"newPassword": "x" * 73})
    assert {e["param"] for e in response.get_json()["errors"]} == {"currentPassword",
                                                                   "newPassword"}
    # Nothing was revoked by the failed attempts.
    assert auth_client.get("/users/profile", headers=headers).status_code == 200


def test_deleted_account_tokens_are_refused(auth_client, db):
    user = register(auth_client)
    db.users.delete_one({"email": user["email"]})
    assert auth_client.get("/users/profile", headers=bearer(user["token"])).status_code == 401


def test_token_of_another_jti_is_unaffected_by_blacklist(auth_client, db):
    user = register(auth_client)
    db.blacklisted_tokens.insert_one({"jti": str(uuid.uuid4()), "sub": user["user"]["_id"],
                                      "role": "user", "expiresAt": datetime.now(UTC),
                                      "createdAt": datetime.now(UTC)})
    assert auth_client.get("/users/profile", headers=bearer(user["token"])).status_code == 200


def test_header_forms_outside_the_plain_one_are_decided_as_before(auth_client):
    """A plain `Bearer <jwt>` is checked with one decode; every other form goes to
    flask-jwt-extended's check and gets its answer: a comma-separated list with one
    Bearer entry is taken, a Bearer entry with extra parts is an invalid token, a
    token not valid yet is refused."""
    user = register(auth_client)
    auth_client.delete_cookie("token")
    token = user["token"]
    listed = {"Authorization": f"Basic abc, Bearer {token}"}
    assert auth_client.get("/users/profile", headers=listed).status_code == 200
    response = auth_client.get("/users/profile", headers={"Authorization": f"Bearer {token} x"})
    assert response.status_code == 401 and response.get_json() == {"message": "Invalid token"}
    claims, now = claims_of(token), int(time.time())
    early = sign({**claims, "nbf": now + 600, "iat": now})
    response = auth_client.get("/users/profile", headers=bearer(early))
    assert response.status_code == 401 and set(response.get_json()) == {"message"}

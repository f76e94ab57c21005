"""Forged, stale and misused tokens, on HTTP (both served services; Bearer header,
QuickChat's `token` header and cookie) and on the Socket.IO handshake: every one is
refused.

Each forged token differs from a genuine one (`genuine`, which must work) in one
thing only, so a refusal is due to that thing."""
import hashlib
import secrets
import time
from datetime import timedelta

import jwt
import pytest
import requests
import socketio
from flask_jwt_extended import create_refresh_token

from shared.serialize import now

from ..factories import REVOKED_ELSEWHERE_SECONDS, _token_app, make_captain, make_user, token_for
from ..sockets import RecordingClient
from .forge import DROP, PUBLIC_KEY_PEM, claims, sign, swap_payload, unsigned, with_signature

# One route per service and role family (and QuickChat's compat routes); the any-role
# routes take either token.
HTTP_TARGETS = [("auth", "/users/profile"), ("realtime", "/rides"),
                ("realtime", "/messages/users"), ("auth", "/api/auth/check"),
                ("realtime", "/api/messages/users")]


def forged_tokens(user, other):
    """name -> a token that must be refused for `user`."""
    now = int(time.time())
    genuine = sign(claims(user))
    with _token_app.app_context():
        refresh_jwt = create_refresh_token(identity=str(user["_id"]),
                                           additional_claims={"role": "user", "ver": 0})
    tokens = {
        "alg none": unsigned(claims(user)),
        "alg None": unsigned(claims(user), alg="None"),
        "alg NONE": unsigned(claims(user), alg="NONE"),
        "HS256 with a wrong key": sign(claims(user), key="not-the-secret"),
        "HS256 with an empty key": sign(claims(user), key=b""),
        "HS384 with the right key": sign(claims(user), alg="HS384", digest=hashlib.sha384),
        "HS512 with the right key": sign(claims(user), alg="HS512", digest=hashlib.sha512),
        "RS256 header, junk signature": with_signature(claims(user), "RS256"),
        "ES256 header, junk signature": with_signature(claims(user), "ES256",
                                                       b"\x01" * 64),
        "RS/HS confusion (public key as HMAC secret)": sign(claims(user), key=PUBLIC_KEY_PEM),
        "kid pointing elsewhere, wrong key": sign(claims(user), key="x",
                                                  header={"kid": "../../dev/null"}),
        "tampered sub (another user's id)": swap_payload(
            genuine, claims(user, sub=str(other["_id"]))),
        "tampered role": swap_payload(genuine, claims(user, role="captain")),
        "expired": sign(claims(user, iat=now - 7200, nbf=now - 7200, exp=now - 60)),
        "not yet valid (nbf)": sign(claims(user, nbf=now + 3600)),
        "issued in the future (iat)": sign(claims(user, iat=now + 3600)),
        "refresh JWT used as access": refresh_jwt,
        "type refresh": sign(claims(user, type="refresh")),
        "role admin": sign(claims(user, role="admin")),
        "role as a list": sign(claims(user, role=["user"])),
        "role as an object": sign(claims(user, role={"$ne": None})),
        "sub of no account": sign(claims(user, sub="0" * 24)),
        "sub not an id": sign(claims(user, sub="admin")),
        "sub as a number": sign(claims(user, sub=12345)),
        "sub as an operator": sign(claims(user, sub={"$ne": None})),
        "ver as a string": sign(claims(user, ver="9")),
        "exp as a string": sign(claims(user, exp=str(now + 600))),
        "empty string": "",
        "three dots": "a.b.c",
        "oversized (6 KiB)": "e" * 6144,
        "unicode garbage": "\u00e9\u00e8.\u00e0.\u00fc",
    }
    for claim in ("sub", "role", "type", "jti", "exp", "iat", "ver"):
        tokens[f"missing {claim}"] = sign(claims(user, **{claim: DROP}))
    return tokens


@pytest.fixture
def accounts(db):
    return make_user(db), make_user(db), make_captain(db)


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def services(served_auth, served_realtime):
    return {"auth": served_auth.url, "realtime": served_realtime.url}


def test_forged_tokens_are_refused_over_http(served_auth, served_realtime, db, accounts):
    user, other, _ = accounts
    urls = services(served_auth, served_realtime)
    session = requests.Session()
    for service, path in HTTP_TARGETS:  # the harness itself: the genuine token works
        assert session.get(urls[service] + path,
                           headers=bearer(sign(claims(user)))).status_code == 200, path
    accepted = {}
    for name, token in forged_tokens(user, other).items():
        for service, path in HTTP_TARGETS:
            url = urls[service] + path
            by_header = session.get(url, headers=bearer(token)) if token else None
            by_token_header = session.get(url, headers={"token": token}) if token else None
            session.cookies.clear()
            by_cookie = session.get(url, cookies={"token": token})
            for how, response in (("header", by_header), ("token header", by_token_header),
                                  ("cookie", by_cookie)):
                if response is None:
                    continue
                if response.status_code != 401 or "message" not in response.json():
                    accepted[f"{name} via {how} on {path}"] = response.status_code
    assert not accepted, accepted


def test_refresh_token_is_not_an_access_token(served_auth, served_realtime, db):
    registered = requests.post(f"{served_auth.url}/users/register", json={
        "fullname": {"firstname": "Refresh"}, "email": "refresh-as-access@example.com",
        "password": "secret123"}).json()
    for url in (f"{served_auth.url}/users/profile", f"{served_realtime.url}/rides"):
        response = requests.get(url, headers=bearer(registered["refreshToken"]))
        assert response.status_code == 401
    # and an access token is not a refresh token
    response = requests.post(f"{served_auth.url}/auth/refresh",
                             json={"refreshToken": registered["token"]})
    assert response.status_code == 401


def test_wrong_role_is_403_on_every_role_bound_route(served_auth, served_realtime, db,
                                                     accounts):
    user, _, captain = accounts
    auth, realtime = served_auth.url, served_realtime.url
    as_user, as_captain = bearer(token_for(user)), bearer(token_for(captain, "captain"))
    checks = [("GET", f"{auth}/users/profile", as_captain),
              ("GET", f"{auth}/users/activity", as_captain),
              ("POST", f"{auth}/users/logout-all", as_captain),
              ("GET", f"{auth}/api/auth/check", as_captain),
              ("PUT", f"{auth}/api/auth/update-profile", as_captain),
              ("GET", f"{auth}/captains/profile", as_user),
              ("PATCH", f"{auth}/captains/status", as_user),
              ("GET", f"{realtime}/rides/fare", as_captain),
              ("POST", f"{realtime}/rides", as_captain),
              ("POST", f"{realtime}/rides/{'a' * 24}/accept", as_user),
              ("POST", f"{realtime}/rides/{'a' * 24}/start", as_user),
              ("POST", f"{realtime}/rides/{'a' * 24}/end", as_user)]
    for method, url, headers in checks:
        response = requests.request(method, url, headers=headers, json={})
        assert response.status_code == 403, (method, url, response.text)
    # the role's own token still works: the 403s were about the role, not the token
    assert requests.get(f"{auth}/users/profile", headers=as_user).status_code == 200
    assert requests.get(f"{auth}/captains/profile", headers=as_captain).status_code == 200


def test_revoked_and_deleted_account_tokens_are_refused(served_auth, served_realtime, db,
                                                       accounts):
    user, other, captain = accounts
    auth, realtime = served_auth.url, served_realtime.url
    logged_out = token_for(user)
    assert requests.post(f"{auth}/users/logout", headers=bearer(logged_out)).status_code == 200
    everywhere = token_for(other)
    assert requests.post(f"{auth}/users/logout-all",
                         headers=bearer(everywhere)).status_code == 200
    deleted = token_for(captain, "captain")
    db.captains.delete_one({"_id": captain["_id"]})
    # The realtime service is another process: it refuses a token the auth service
    # blacklisted within REVOCATION_POLL_SECONDS (tests/hardening/test_revocation_bound.py).
    time.sleep(REVOKED_ELSEWHERE_SECONDS)
    for token, url in [(logged_out, f"{auth}/users/profile"), (logged_out, f"{realtime}/rides"),
                       (everywhere, f"{auth}/users/profile"), (everywhere, f"{realtime}/rides"),
                       (deleted, f"{auth}/captains/profile"), (deleted, f"{realtime}/rides")]:
        assert requests.get(url, headers=bearer(token)).status_code == 401, url
        assert requests.get(url, headers={"token": token}).status_code == 401, url


def socket_refusal(url, token):
    """The `connect_error` payload, or None when the connection was (wrongly) accepted."""
    client = RecordingClient()
    try:
        client.connect(url, token)
    except socketio.exceptions.ConnectionError:
        return client.connect_error or {"message": "(refused without a payload)"}
    client.disconnect()
    return None


def test_forged_tokens_are_refused_on_socket_connect(served_realtime, db, accounts):
    user, other, captain = accounts
    url = served_realtime.url
    control = RecordingClient().connect(url, sign(claims(user)))
    assert control.connected
    control.disconnect()
    tokens = forged_tokens(user, other)
    # revoked and deleted too
    logged_out = token_for(other)
    db.blacklisted_tokens.insert_one({"jti": jwt.decode(logged_out, options={
        "verify_signature": False})["jti"], "sub": str(other["_id"]), "role": "user",
        "expiresAt": now() + timedelta(days=1), "createdAt": now()})
    time.sleep(REVOKED_ELSEWHERE_SECONDS)  # written by "another process": seen within a poll
    tokens["blacklisted"] = logged_out
    tokens["account deleted"] = token_for(captain, "captain")
    db.captains.delete_one({"_id": captain["_id"]})
    tokens["random refresh-like string"] = secrets.token_urlsafe(32)
    accepted = [name for name, token in tokens.items()
                if token and socket_refusal(url, token) is None]
    assert accepted == []


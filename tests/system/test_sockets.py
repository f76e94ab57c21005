"""Socket.IO connection auth, rooms and revocation, with real clients against a served
realtime process."""
import time
from datetime import timedelta

import jwt
import pytest
import requests
import socketio
from flask_jwt_extended import create_access_token, create_refresh_token

from shared.serialize import now
from tests.harness import free_port

from ..conftest import serve
from ..factories import (
    PASSWORD,
    REVOKED_ELSEWHERE_SECONDS,
    _token_app,
    make_captain,
    make_user,
    token_for,
)
from ..sockets import RecordingClient


def claims_of(token):
    return jwt.decode(token, options={"verify_signature": False})


def refused(url, token=None, **kwargs):
    """The `connect_error` payload of a refused connection."""
    client = RecordingClient()
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(url, token, **kwargs)
    assert not client.connected
    return client.connect_error


@pytest.fixture
def url(served_realtime, db):
    return served_realtime.url


def test_token_in_auth_query_or_header_is_accepted(url, db, clients):
    user = make_user(db)
    token = token_for(user)
    by_auth = clients(url, token)
    by_query = clients(url, None, query=f"token={token}")
    by_header = clients(url, None, headers={"Authorization": f"Bearer {token}"})
    assert by_auth.connected and by_query.connected and by_header.connected
    stored = db.users.find_one({"_id": user["_id"]})
    assert stored["socketId"] == by_header.client.get_sid()


def test_captain_token_is_accepted(url, db, clients):
    captain = make_captain(db)
    client = clients(url, token_for(captain, "captain"))
    assert client.connected
    assert db.captains.find_one({"_id": captain["_id"]})["socketId"] == client.client.get_sid()


def forged(user, **claims):
    with _token_app.app_context():
        return create_access_token(identity=str(user["_id"]),
                                   additional_claims={"role": "user", "ver": 0, **claims})


def test_missing_and_malformed_tokens_are_refused(url, db):
    assert refused(url) == {"message": "Authentication required"}
    assert refused(url, "not-a-jwt") == {"message": "Invalid token"}
    assert refused(url, None, headers={"Authorization": "Basic abc"}) == {
        "message": "Authentication required"}


def test_tampered_and_foreign_tokens_are_refused(url, db):
    user = make_user(db)
    token = token_for(user)
    header, payload, signature = token.split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}AAAA"
    assert refused(url, tampered) == {"message": "Invalid token"}
    other_secret = jwt.encode({**claims_of(token)}, "another-secret-of-32-characters!!",
                              algorithm="HS256")
    assert refused(url, other_secret) == {"message": "Invalid token"}
    unsigned = jwt.encode(claims_of(token), None, algorithm="none")
    assert refused(url, unsigned) == {"message": "Invalid token"}


def test_expired_token_is_refused(url, db):
    user = make_user(db)
    with _token_app.app_context():
        expired = create_access_token(identity=str(user["_id"]), expires_delta=timedelta(-1),
                                      additional_claims={"role": "user", "ver": 0})
    assert refused(url, expired) == {"message": "Token has expired"}


def test_refresh_token_and_wrong_role_claims_are_refused(url, db):
    user = make_user(db)
    with _token_app.app_context():
        refresh = create_refresh_token(identity=str(user["_id"]),
                                       additional_claims={"role": "user"})
    assert refused(url, refresh) == {"message": "Invalid token"}
    assert refused(url, forged(user, role="admin")) == {"message": "Invalid token"}
    # A user's id presented as a captain: no such captain.
    assert refused(url, forged(user, role="captain")) == {"message": "Invalid token"}


def test_blacklisted_and_outdated_tokens_are_refused(url, db):
    user = make_user(db)
    token = token_for(user)
    db.blacklisted_tokens.insert_one({"jti": claims_of(token)["jti"], "sub": str(user["_id"]),
                                      "role": "user", "createdAt": now(),
                                      "expiresAt": now() + timedelta(days=1)})
    time.sleep(REVOKED_ELSEWHERE_SECONDS)  # written by "another process": seen within a poll
    assert refused(url, token) == {"message": "Token has been revoked"}
    other = make_user(db)
    old = token_for(other)
    db.users.update_one({"_id": other["_id"]}, {"$inc": {"tokenVersion": 1}})
    assert refused(url, old) == {"message": "Token has been revoked"}


def test_deleted_account_is_refused(url, db):
    user = make_user(db)
    token = token_for(user)
    db.users.delete_one({"_id": user["_id"]})
    assert refused(url, token) == {"message": "Invalid token"}


def test_online_users_on_connect_and_disconnect(url, db, clients):
    alice, bob, carol = make_user(db), make_user(db), make_captain(db)
    a_id, b_id = str(alice["_id"]), str(bob["_id"])
    a = clients(url, token_for(alice))
    a.wait_for("getOnlineUsers", lambda ids: a_id in ids)
    b = clients(url, token_for(bob))
    b.wait_for("getOnlineUsers", lambda ids: {a_id, b_id} <= set(ids))
    a.wait_for("getOnlineUsers", lambda ids: b_id in ids)
    captain = clients(url, token_for(carol, "captain"))
    a.forget("getOnlineUsers")
    b.disconnect()  # a deliberate leave: offline at once, not after the 5 s grace
    assert a_id in a.wait_for("getOnlineUsers", lambda ids: b_id not in ids, timeout=3)
    # Captains are not in the list and do not get it.
    assert not any(str(carol["_id"]) in ids for ids in a.events["getOnlineUsers"])
    assert "getOnlineUsers" not in captain.events


def test_second_tab_gets_the_list_and_keeps_the_user_online(url, db, clients):
    alice, bob, dave = make_user(db), make_user(db), make_user(db)
    a_id, d_id = str(alice["_id"]), str(dave["_id"])
    watcher = clients(url, token_for(bob))
    tab1 = clients(url, token_for(alice))
    watcher.wait_for("getOnlineUsers", lambda ids: a_id in ids)
    tab2 = clients(url, token_for(alice))
    tab2.wait_for("getOnlineUsers", lambda ids: a_id in ids)
    tab1.disconnect()
    clients(url, token_for(dave))
    # Still online through tab2 when the next change is announced.
    assert a_id in watcher.wait_for("getOnlineUsers", lambda ids: d_id in ids)
    assert db.users.find_one({"_id": alice["_id"]})["socketId"] == tab2.client.get_sid()
    watcher.forget("getOnlineUsers")
    tab2.disconnect()  # a deliberate leave: offline at once (see above)
    watcher.wait_for("getOnlineUsers", lambda ids: a_id not in ids, timeout=3)
    assert db.users.find_one({"_id": alice["_id"]})["socketId"] is None


def wait_disconnected(client, timeout):
    deadline = time.monotonic() + timeout
    while client.connected and time.monotonic() < deadline:
        time.sleep(0.02)
    return not client.connected


def test_logout_revokes_only_that_token_within_two_seconds(url, db, clients):
    user = make_user(db)
    revoked_token, other_token = token_for(user), token_for(user)
    tab1, tab2 = clients(url, revoked_token), clients(url, revoked_token)
    other = clients(url, other_token)
    started = time.monotonic()
    db.blacklisted_tokens.insert_one({"jti": claims_of(revoked_token)["jti"],
                                      "sub": str(user["_id"]), "role": "user",
                                      "createdAt": now(), "expiresAt": now() + timedelta(days=1)})
    for tab in (tab1, tab2):
        assert tab.wait_for("session-revoked", timeout=2)["message"]
        assert wait_disconnected(tab, 2 - (time.monotonic() - started))
    time.sleep(0.6)  # one more poll: the other session is untouched
    assert other.connected and "session-revoked" not in other.events


def test_logout_all_revokes_every_connection_of_the_account(url, db, clients):
    captain = make_captain(db)
    bystander = make_captain(db)
    tabs = [clients(url, token_for(captain, "captain")) for _ in range(2)]
    other = clients(url, token_for(bystander, "captain"))
    db.captains.update_one({"_id": captain["_id"]},
                           {"$inc": {"tokenVersion": 1}, "$set": {"tokensRevokedAt": now()}})
    started = time.monotonic()
    for tab in tabs:
        tab.wait_for("session-revoked", timeout=2)
        assert wait_disconnected(tab, 2 - (time.monotonic() - started))
    # A token issued after the bump still connects.
    fresh = db.captains.find_one({"_id": captain["_id"]})
    assert clients(url, token_for(fresh, "captain")).connected
    assert other.connected


@pytest.mark.parametrize("route", ["logout", "logout-all", "password"])
def test_revocations_by_the_separate_auth_process(served_auth, url, db, clients, route):
    """The auth service and the realtime service as two processes, no Redis."""
    user = make_user(db)
    token = token_for(user)
    tabs = [clients(url, token), clients(url, token)]
    headers = {"Authorization": f"Bearer {token}"}
    if route == "password":
        response = requests.put(f"{served_auth.url}/users/password", headers=headers, timeout=5,
                                json={"currentPassword": PASSWORD, "newPassword": "n3w-secret"})
    else:
        response = requests.post(f"{served_auth.url}/users/{route}", headers=headers, timeout=5)
    assert response.status_code == 200, response.text
    started = time.monotonic()
    for tab in tabs:
        assert tab.wait_for("session-revoked", timeout=2) == {
            "message": "Your session has been revoked, please log in again"}
        assert wait_disconnected(tab, 2 - (time.monotonic() - started))
    if route == "password":  # the token issued with the new password connects
        fresh = response.json().get("token")
        assert fresh and clients(url, fresh).connected


def test_redis_down_refuses_connections(mongo_uri, tmp_path, db):
    """With REDIS_URL the presence store and the message queue are Redis: a process
    whose Redis is away refuses connections instead of answering wrong."""
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    service = serve("realtime_service", mongo_uri, tmp_path, REDIS_URL=dead_redis)
    try:
        assert refused(service.url, token_for(make_user(db))) == {
            "message": "Service unavailable, try again later"}
    finally:
        service.stop()


def test_socket_is_closed_when_its_token_expires(url, db):
    user = make_user(db)
    with _token_app.app_context():
        short = create_access_token(identity=str(user["_id"]), expires_delta=timedelta(seconds=2),
                                    additional_claims={"role": "user", "ver": 0})
    client = RecordingClient().connect(url, short)
    try:
        assert client.wait_for("session-revoked", timeout=5) == {
            "message": "Your session has expired, please log in again"}
        assert wait_disconnected(client, 2)
    finally:
        client.disconnect()

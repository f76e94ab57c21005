"""Scale-out: two realtime processes sharing a real redis-server carry each other's
pushes and see one online set; a crashed process's users go offline by themselves."""
import time
from datetime import timedelta

import jwt
import pytest
import requests

from devserver.processes import stop_all
from shared.serialize import now

from ..conftest import prepare, serve, serve_all
from ..factories import auth_header, make_user, token_for
from ..sockets import RecordingClient

PRESENCE_TTL = 2  # seconds; short so that the crash test is quick


def start(mongo_uri, redis_url, tmp_path_factory):
    return serve("realtime_service", mongo_uri, tmp_path_factory.mktemp("scaleout"),
                 REDIS_URL=redis_url, PRESENCE_TTL=PRESENCE_TTL)


@pytest.fixture(scope="module")
def processes(mongo_uri, redis_url, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scaleout")
    services = serve_all([prepare("realtime_service", mongo_uri, tmp, REDIS_URL=redis_url,
                                  PRESENCE_TTL=PRESENCE_TTL) for _ in range(2)])
    yield [service.url for service in services]
    stop_all(services)


def test_message_posted_to_one_process_reaches_clients_of_the_other(processes, db, account_sockets):
    url_a, url_b = processes
    alice, bob = make_user(db), make_user(db)
    alice_a, alice_b = account_sockets(url_a, alice), account_sockets(url_b, alice)
    bob_b = account_sockets(url_b, bob)
    response = requests.post(f"{url_b}/messages/send/{alice['_id']}", json={"text": "via B"},
                             headers=auth_header(bob), timeout=5)
    assert response.status_code == 201
    sent = response.json()["newMessage"]
    for tab in (alice_a, alice_b):
        assert tab.wait_for("newMessage") == sent
    # And back: posted to A, reaches bob on B; bob marks it seen on B, alice on A is told.
    reply = requests.post(f"{url_a}/messages/send/{bob['_id']}", json={"text": "via A"},
                          headers=auth_header(alice), timeout=5).json()["newMessage"]
    assert bob_b.wait_for("newMessage", lambda m: m["text"] == "via A") == reply
    requests.post(f"{url_b}/messages/{alice['_id']}/seen", json={"upTo": reply["_id"]},
                  headers=auth_header(bob), timeout=5).raise_for_status()
    seen = alice_a.wait_for("messages-seen")
    assert (seen["readerId"], seen["upTo"]) == (str(bob["_id"]), reply["_id"])


def test_one_online_list_across_processes(processes, db, account_sockets):
    url_a, url_b = processes
    alice, bob = make_user(db), make_user(db)
    a_id, b_id = str(alice["_id"]), str(bob["_id"])
    alice_a = account_sockets(url_a, alice)
    bob_b = account_sockets(url_b, bob)
    # B's announcement reaches A's users, and B's list includes A's users.
    alice_a.wait_for("getOnlineUsers", lambda ids: b_id in ids)
    assert a_id in bob_b.wait_for("getOnlineUsers", lambda ids: b_id in ids)
    # A second tab of bob on A, then B's tab closes: bob stays online.
    bob_a = account_sockets(url_a, bob)
    bob_a.wait_for("getOnlineUsers", lambda ids: {a_id, b_id} <= set(ids))
    bob_b.disconnect()
    carol = make_user(db)
    account_sockets(url_b, carol)
    assert b_id in alice_a.wait_for("getOnlineUsers", lambda ids: str(carol["_id"]) in ids)
    alice_a.forget("getOnlineUsers")
    bob_a.disconnect()  # a deliberate leave: offline at once, not after the 5 s grace
    alice_a.wait_for("getOnlineUsers", lambda ids: b_id not in ids, timeout=3)


def test_crashed_process_users_go_offline(processes, mongo_uri, redis_url, tmp_path_factory,
                                          db, account_sockets):
    url_a, _ = processes
    alice, bob = make_user(db), make_user(db)
    b_id = str(bob["_id"])
    alice_a = account_sockets(url_a, alice)
    doomed = start(mongo_uri, redis_url, tmp_path_factory)
    try:
        account_sockets(doomed.url, bob)
        alice_a.wait_for("getOnlineUsers", lambda ids: b_id in ids)
        alice_a.forget("getOnlineUsers")
        doomed.kill()  # SIGKILL: no disconnect handler runs
        # A notices the missing heartbeat and announces the new list by itself.
        alice_a.wait_for("getOnlineUsers", lambda ids: b_id not in ids,
                         timeout=PRESENCE_TTL * 3)
    finally:
        doomed.stop()


def test_revocation_reaches_a_socket_on_any_process(processes, db, account_sockets):
    url_a, url_b = processes
    alice = make_user(db)
    token = token_for(alice)
    on_a = RecordingClient().connect(url_a, token)
    on_b = RecordingClient().connect(url_b, token)
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    db.blacklisted_tokens.insert_one({"jti": jti, "sub": str(alice["_id"]), "role": "user",
                                      "createdAt": now(),
                                      "expiresAt": now() + timedelta(days=1)})
    for client in (on_a, on_b):
        assert client.wait_for("session-revoked", timeout=2)
    deadline = time.monotonic() + 2
    while (on_a.connected or on_b.connected) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not on_a.connected and not on_b.connected

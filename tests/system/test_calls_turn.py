"""TURN with a real coturn on loopback (`use-auth-secret`): a relay-only aiortc peer
connects with the credentials of GET /calls/ice-servers, and coturn refuses forged,
borrowed and expired ones."""
import asyncio
import shutil
import time

import pytest
import requests

from ..conftest import serve
from ..factories import auth_header, make_user
from ..turn_support import Coturn, allocate, credential
from ..webrtc_support import call_through_ridewire

SECRET = "coturn-test-secret-not-for-production"
UNAUTHORIZED = 401


@pytest.fixture(scope="module")
def coturn(tmp_path_factory):
    assert shutil.which("turnserver"), (
        "coturn is required (apt-get install coturn; .ci/run installs it)")
    server = Coturn(tmp_path_factory.mktemp("coturn"), SECRET).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def realtime_with_turn(mongo_uri, coturn, tmp_path_factory):
    served = serve("realtime_service", mongo_uri, tmp_path_factory.mktemp("turn"),
                   TURN_URLS=coturn.url, TURN_SECRET=SECRET, TURN_TTL_SECONDS=300)
    yield served
    served.stop()


def turn_server_for(url, account):
    """The TURN entry of GET /calls/ice-servers for `account`."""
    answer = requests.get(f"{url}/calls/ice-servers", headers=auth_header(account), timeout=5)
    (server,) = answer.json()["iceServers"]
    return server


def test_a_relay_only_peer_connects_through_coturn(realtime_with_turn, db):
    alice, bob = make_user(db), make_user(db)
    first, second, received = asyncio.run(
        call_through_ridewire(realtime_with_turn.url, alice, bob, relay_only=True))
    assert received == [f"hello from {bob['_id']}", f"hello from {alice['_id']}"]
    assert second.sent_candidates
    assert all(" typ relay " in candidate for candidate in second.sent_candidates)


def test_coturn_takes_ridewires_credentials_and_refuses_others(realtime_with_turn,
                                                               coturn, db):
    user = make_user(db)
    server = turn_server_for(realtime_with_turn.url, user)
    assert server["urls"] == [coturn.url]
    username, password = server["username"], server["credential"]
    assert username.endswith(f":{user['_id']}")
    relayed = asyncio.run(allocate(coturn.port, username, password))
    assert isinstance(relayed, tuple) and relayed[0] == "127.0.0.1"
    forged = credential("not-the-shared-secret", username)
    borrowed = f"{username.split(':')[0]}:{'f' * 24}"  # another account, same credential
    expired = f"{int(time.time()) - 60}:{user['_id']}"
    for name, secret_word in ((username, forged), (borrowed, password),
                              (expired, credential(SECRET, expired))):
        assert asyncio.run(allocate(coturn.port, name, secret_word)) == UNAUTHORIZED

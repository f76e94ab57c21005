"""GET /calls/ice-servers: STUN and TURN URLs ready for RTCPeerConnection, TURN
credentials in coturn's `use-auth-secret` scheme and their lifetime."""
import base64
import hashlib
import hmac
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ..conftest import make_config
from ..factories import auth_header, make_captain, make_user

SECRET = "a-turn-secret-shared-with-coturn"
STUN = ["stun:127.0.0.1:3478", "stun:stun.example.org:3478"]
ROOT = Path(__file__).resolve().parent.parent
TURN = ["turn:127.0.0.1:3478?transport=udp", "turn:127.0.0.1:3478?transport=tcp"]


@pytest.fixture
def ice_client(mongo_uri, db):
    """`ice_client(**settings)`: a test client of a realtime app with these settings."""
    from realtime_service.app import create_app

    return lambda **settings: create_app(make_config(mongo_uri, **settings)).test_client()


def coturn_credential(secret, username):
    """What coturn computes for `use-auth-secret`: base64(HMAC-SHA1(secret, username))."""
    return base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1)
                            .digest()).decode()


def test_without_any_server_configured_the_list_is_empty(ice_client, db):
    answer = ice_client().get("/calls/ice-servers", headers=auth_header(make_user(db)))
    assert answer.status_code == 200
    assert answer.get_json() == {"iceServers": [], "ttl": 3600}
    assert answer.headers["Cache-Control"] == "no-store"


def test_without_turn_only_stun_is_offered(ice_client, db):
    client = ice_client(STUN_URLS=STUN, TURN_SECRET=SECRET)  # a secret alone is no TURN
    answer = client.get("/calls/ice-servers", headers=auth_header(make_user(db)))
    assert answer.get_json()["iceServers"] == [{"urls": STUN}]


def test_turn_credentials_follow_coturns_formula_and_ttl(ice_client, db):
    client = ice_client(STUN_URLS=STUN, TURN_URLS=TURN, TURN_SECRET=SECRET,
                        TURN_TTL_SECONDS=600)
    captain = make_captain(db)
    before = int(time.time())
    answer = client.get("/calls/ice-servers", headers=auth_header(captain, "captain"))
    after = int(time.time())
    body = answer.get_json()
    assert body["ttl"] == 600
    stun, turn = body["iceServers"]
    assert stun == {"urls": STUN}
    assert set(turn) == {"urls", "username", "credential"} and turn["urls"] == TURN
    expiry, account_id = turn["username"].split(":")
    assert account_id == str(captain["_id"])
    assert before + 600 <= int(expiry) <= after + 600
    assert turn["credential"] == coturn_credential(SECRET, turn["username"])
    assert turn["credential"] != coturn_credential("another-secret", turn["username"])


def test_each_account_gets_its_own_credentials(ice_client, db):
    client = ice_client(TURN_URLS=TURN, TURN_SECRET=SECRET)
    first, second = make_user(db), make_user(db)
    names = {client.get("/calls/ice-servers", headers=auth_header(account))
             .get_json()["iceServers"][0]["username"].split(":")[1]
             for account in (first, second)}
    assert names == {str(first["_id"]), str(second["_id"])}


def test_ice_servers_need_a_token(ice_client, db):
    assert ice_client().get("/calls/ice-servers").status_code == 401


def test_turn_urls_without_a_secret_refuse_to_start(tmp_path):
    code = "from shared.config import Config\nConfig.check()"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "TURN_URLS": TURN[0]}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode != 0 and "TURN_URLS needs TURN_SECRET" in result.stderr

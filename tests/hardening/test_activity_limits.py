"""The activity history that clients write (`POST /users/activity`, `POST
/captains/activity`) against the auth service as production runs it (APP_ENV=production,
a real secret, rate limits on): a per-account rate limit, a cap on what one account
keeps, and an expiry on every entry."""
from datetime import timedelta

import jwt
import pytest
import requests

from ..conftest import serve
from ..factories import PASSWORD, make_captain, make_user
from .forge import claims

SECRET = "a-production-secret-of-at-least-32-chars"
BUDGET = 5
KEPT = 3
META = {"place": "x" * 4000}  # about the largest meta a client may send (4 KiB)


@pytest.fixture(scope="module")
def production_auth(mongo_uri, tmp_path_factory):
    service = serve("auth_service", mongo_uri, tmp_path_factory.mktemp("activity-limits"),
                    APP_ENV="production", JWT_SECRET_KEY=SECRET, RATELIMIT_ENABLED="true",
                    ACTIVITY_RATE_LIMIT=f"{BUDGET} per minute", ACTIVITY_CLIENT_MAX=KEPT,
                    ACTIVITY_RETENTION_DAYS=30)
    yield service
    service.stop()


def post_activity(service, account, role, action):
    token = jwt.encode(claims(account, role=role), SECRET, algorithm="HS256")
    return requests.post(f"{service.url}/{role}s/activity", timeout=10,
                         headers={"Authorization": f"Bearer {token}"},
                         json={"action": action, "meta": META})


@pytest.mark.parametrize("role", ["user", "captain"])
def test_one_account_cannot_write_its_history_without_bound(production_auth, db, role):
    """Sixty 4 KiB entries back to back were all stored, and kept for ever."""
    account = make_user(db) if role == "user" else make_captain(db)
    statuses = [post_activity(production_auth, account, role, f"visit-{n}").status_code
                for n in range(BUDGET + 3)]
    assert statuses == [201] * BUDGET + [429] * 3
    kept = list(db.activities.find({"account": account["_id"], "source": "client"}))
    assert sorted(entry["action"] for entry in kept) == [
        f"visit-{n}" for n in range(BUDGET - KEPT, BUDGET)]
    for entry in kept:
        assert entry["expiresAt"] - entry["createdAt"] == timedelta(days=30)
    other = make_user(db) if role == "user" else make_captain(db)
    assert post_activity(production_auth, other, role, "visit").status_code == 201


def test_every_history_entry_expires(production_auth, db):
    """Server-written entries (a login) expire too, by the TTL index on `expiresAt`."""
    account = make_user(db, email="history@example.com")
    login = requests.post(f"{production_auth.url}/users/login", timeout=10,
                          json={"email": "history@example.com", "password": PASSWORD})
    assert login.status_code == 200, login.text
    entry = db.activities.find_one({"account": account["_id"], "action": "login"})
    assert entry["expiresAt"] - entry["createdAt"] == timedelta(days=30)
    ttl = [index for index in db.activities.index_information().values()
           if index["key"] == [("expiresAt", 1)]]
    assert ttl and ttl[0]["expireAfterSeconds"] == 0

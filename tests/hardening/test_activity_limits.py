"""What clients write to the auth service, as production runs it (APP_ENV=production, a
real secret, rate limits on): the activity history (`POST /users/activity`, `POST
/captains/activity`) has a per-account rate limit, a cap on what one account keeps and
an expiry on every entry; profile changes, which may each decode a 5 MiB image, have a
per-account rate limit."""
from datetime import timedelta

import jwt
import pytest
import requests

from ..auth_api import PNG_1PX, data_url
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
                    ACTIVITY_RETENTION_DAYS=30,
                    PROFILE_UPDATE_RATE_LIMIT=f"{BUDGET} per minute")
    yield service
    service.stop()


def bearer(account, role="user"):
    token = jwt.encode(claims(account, role=role), SECRET, algorithm="HS256")
    return {"Authorization": f"Bearer {token}"}


def post_activity(service, account, role, action):
    return requests.post(f"{service.url}/{role}s/activity", timeout=10,
                         headers=bearer(account, role), json={"action": action, "meta": META})


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


def test_profile_changes_are_limited_per_account(production_auth, db):
    """Each change may decode and store a 5 MiB image: the Ridewire route and
    QuickChat's share one budget per account."""
    user = make_user(db)
    picture = {"profilePic": data_url(PNG_1PX)}

    def change(n):
        if n % 2:
            return requests.put(f"{production_auth.url}/api/auth/update-profile", timeout=10,
                                headers=bearer(user), json={"fullName": "Mallory M", **picture})
        return requests.patch(f"{production_auth.url}/users/profile", timeout=10,
                              headers=bearer(user), json=picture)

    statuses = [change(n).status_code for n in range(BUDGET + 2)]
    assert statuses == [200] * BUDGET + [429] * 2
    assert requests.patch(f"{production_auth.url}/users/profile", timeout=10,
                          headers=bearer(make_user(db)), json=picture).status_code == 200

"""Password guessing against the auth service as production runs it (rate limits on,
one proxy hop trusted, attacker addresses chosen with X-Forwarded-For): the owner is
never locked out from an address they logged in from, and neither many addresses nor
one stolen token buy unlimited bcrypt checks."""
import itertools
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from ..conftest import serve
from ..factories import PASSWORD, make_captain, make_user

SECRET = "a-production-secret-of-at-least-32-chars"
LIMIT = 5  # LOGIN_RATE_LIMIT of the served service, per minute
_networks = itertools.count(1)


@pytest.fixture(scope="module")
def production_auth(mongo_uri, tmp_path_factory):
    service = serve("auth_service", mongo_uri, tmp_path_factory.mktemp("throttle-auth"),
                    APP_ENV="production", JWT_SECRET_KEY=SECRET, RATELIMIT_ENABLED="true",
                    TRUSTED_PROXY_HOPS="1", LOGIN_RATE_LIMIT=f"{LIMIT} per minute")
    yield service
    service.stop()


def addresses():
    """Fresh client addresses, never used by another test of this module."""
    network = next(_networks)
    return (f"10.{network}.{n // 250}.{n % 250 + 1}" for n in itertools.count())


def post(service, path, body, address):
    return requests.post(service.url + path, json=body, timeout=30,
                         headers={"X-Forwarded-For": address})


def logged_in(response, path):
    """Whether `response` is a successful login of `path` (QuickChat answers 200 either way)."""
    if response.status_code != 200:
        return False
    return response.json().get("success", True) is True if path.startswith("/api") else True


LOGIN_ROUTES = [("/users/login", make_user), ("/captains/login", make_captain),
                ("/api/auth/login", make_user)]


@pytest.mark.parametrize("path, make_account", LOGIN_ROUTES)
def test_the_owner_logs_in_from_a_known_address_while_others_guess(production_auth, db, path,
                                                                   make_account):
    """Row 3: wrong passwords for the victim's email from anywhere made the owner's own
    login 429. Now the owner's address is spared; unknown addresses still stop."""
    email = make_account(db)["email"]
    owner = next(addresses())
    assert logged_in(post(production_auth, path, {"email": email, "password": PASSWORD},
                          owner), path)
    attackers = addresses()
    attempts, owner_successes, owner_tries = [], 0, 0
    for n in range(40):
        attempts.append(post(production_auth, path, {"email": email, "password": f"guess{n}x"},
                             next(attackers)).status_code)
        if n % 10 == 9:
            owner_tries += 1
            owner_successes += logged_in(post(production_auth, path, {
                "email": email, "password": PASSWORD}, owner), path)
    assert owner_successes == owner_tries == 4
    # The account's budget for unknown addresses (the owner's first login spent one).
    assert len([status for status in attempts if status != 429]) <= LIMIT - 1
    # An unknown address is refused even with the right password while the attack lasts.
    assert post(production_auth, path, {"email": email, "password": PASSWORD},
                next(attackers)).status_code == 429


def test_one_address_is_throttled_across_stolen_tokens(production_auth, db):
    """Row 4, per address: one address with a token of each of many accounts gets
    LOGIN_RATE_LIMIT password checks, then 429."""
    attacker, owners = next(addresses()), addresses()
    tokens = [post(production_auth, "/users/login", {"email": make_user(db)["email"],
                                                     "password": PASSWORD},
                   next(owners)).json()["token"] for _ in range(LIMIT + 3)]
    statuses = [requests.put(production_auth.url + "/users/password", timeout=30, json={
        "currentPassword": "wrong-guess", "newPassword": "another123"},
        headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": attacker}
    ).status_code for token in tokens]
    assert statuses[:LIMIT] == [400] * LIMIT and set(statuses[LIMIT:]) == {429}


def test_every_password_route_spends_one_budget_per_account(production_auth, db):
    """Guesses through QuickChat's login and through PUT /users/password count against
    the same account as /users/login (they were separate per-route counters)."""
    email = make_user(db)["email"]
    owner, attackers = next(addresses()), addresses()
    token = post(production_auth, "/users/login", {"email": email, "password": PASSWORD},
                 owner).json()["token"]
    for _ in range(2):
        assert post(production_auth, "/api/auth/login", {"email": email, "password": "wrong1"},
                    next(attackers)).json()["success"] is False
    for _ in range(2):
        response = requests.put(production_auth.url + "/users/password", timeout=30, json={
            "currentPassword": "wrong-guess", "newPassword": "another123"},
            headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": next(attackers)})
        assert response.status_code == 400
    # owner 1 + compat 2 + password 2 = LIMIT: the account's unknown-address budget is spent.
    assert post(production_auth, "/users/login", {"email": email, "password": PASSWORD},
                next(attackers)).status_code == 429
    assert post(production_auth, "/users/login", {"email": email, "password": PASSWORD},
                owner).status_code == 200


@pytest.mark.parametrize("role, make_account", [("user", make_user),
                                                ("captain", make_captain)])
@pytest.mark.parametrize("spread", [False, True], ids=["one-address", "many-addresses"])
def test_one_token_buys_a_bounded_number_of_password_checks(production_auth, db, role,
                                                            make_account, spread):
    """Row 4: 16 threads guessing `currentPassword` with one token ran a bcrypt check per
    request. Now the token's account gets LOGIN_RATE_LIMIT checks, then 429."""
    email = make_account(db)["email"]
    owner = next(addresses())
    token = post(production_auth, f"/{role}s/login", {"email": email, "password": PASSWORD},
                 owner).json()["token"]
    attackers = addresses()
    one = next(attackers)
    targets = [next(attackers) if spread else one for _ in range(80)]

    def guess(address):
        return requests.put(production_auth.url + f"/{role}s/password", timeout=60, json={
            "currentPassword": "wrong-guess", "newPassword": "another123"},
            headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": address}
        ).status_code

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(guess, targets))
    checked = [status for status in statuses if status != 429]
    assert set(checked) <= {400} and len(checked) <= LIMIT
    assert statuses.count(429) >= len(targets) - LIMIT
    # The owner's login from their own address is untouched by the token's guesses.
    assert post(production_auth, f"/{role}s/login", {"email": email, "password": PASSWORD},
                owner).status_code == 200

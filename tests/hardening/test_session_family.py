"""Session families and revocation races. A logout (of any
access token of a family, or of everything) racing a refresh leaves no working token,
a refresh retires the access token it replaces, and a family's logout ends every token
issued in it, sockets too. Races run with threads against a served auth service in the
production configuration, rate limits on (raised so that the race is not throttled)."""
import pytest
import requests

from ..conftest import serve
from ..factories import PASSWORD, make_user
from .test_races import run_together

SECRET = "a-production-secret-of-at-least-32-chars"
RUNS = 20
LIMITS = {name: "10000 per minute"
          for name in ("LOGIN_RATE_LIMIT", "LOGIN_LONG_RATE_LIMIT", "REFRESH_RATE_LIMIT")}


@pytest.fixture(scope="module")
def production_auth(mongo_uri, tmp_path_factory):
    service = serve("auth_service", mongo_uri, tmp_path_factory.mktemp("family-auth"),
                    APP_ENV="production", JWT_SECRET_KEY=SECRET, RATELIMIT_ENABLED="true",
                    **LIMITS)
    yield service
    service.stop()


def login(url, user):
    response = requests.post(f"{url}/users/login", timeout=10,
                             json={"email": user["email"], "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def refresh(url, refresh_token, session=requests):
    return session.post(f"{url}/auth/refresh", json={"refreshToken": refresh_token},
                        timeout=10)


def works(url, tokens):
    """Whether any of `tokens` (access, or `("refresh", token)`) still gives a session.
    (Access tokens first: presenting a spent refresh token revokes its family.)"""
    for token in sorted(tokens, key=lambda token: isinstance(token, tuple)):
        if isinstance(token, tuple):
            if refresh(url, token[1]).status_code == 200:
                return True
        elif requests.get(f"{url}/users/profile", headers=bearer(token),
                          timeout=10).status_code == 200:
            return True
    return False


def race_survivors(url, db, logout_path):
    """How many of RUNS races of `logout_path` against a refresh leave a working token."""
    survivors = 0
    for _ in range(RUNS):
        session = login(url, make_user(db))
        logout, refreshed = run_together([
            lambda s, token=session["token"]: s.post(url + logout_path, headers=bearer(token),
                                                     timeout=10),
            lambda s, token=session["refreshToken"]: refresh(url, token, s),
        ])
        assert logout.status_code in (200, 401), logout.text
        tokens = [session["token"], ("refresh", session["refreshToken"])]
        if refreshed.status_code == 200:  # the first refresh token is spent
            tokens[1:] = [refreshed.json()["token"], ("refresh", refreshed.json()["refreshToken"])]
        if logout.status_code == 200:
            survivors += works(url, tokens)
        else:  # the refresh retired the token first; its successor logs the family out
            assert refreshed.status_code == 200
            again = requests.post(url + logout_path, headers=bearer(tokens[1]), timeout=10)
            assert again.status_code == 200, again.text
            survivors += works(url, tokens)
    return survivors


@pytest.mark.parametrize("path", ["/users/logout-all", "/users/logout"])
def test_a_logout_racing_a_refresh_leaves_no_working_token(production_auth, db, path):
    """Row 2: the refresh token (and access token) issued during the logout survived."""
    assert race_survivors(production_auth.url, db, path) == 0


def test_a_refresh_retires_the_access_token_it_replaces(production_auth, db):
    """Row 15a: the previous access token stayed valid after /auth/refresh."""
    url = production_auth.url
    first = login(url, make_user(db))
    second = refresh(url, first["refreshToken"]).json()
    assert requests.get(f"{url}/users/profile", headers=bearer(first["token"]),
                        timeout=10).json() == {"message": "Token has been revoked"}
    assert works(url, [second["token"]])


def test_a_logout_ends_every_token_of_its_family_only(production_auth, db):
    """Row 15a: a logout left the other access tokens issued in its family valid."""
    url = production_auth.url
    user = make_user(db)
    other = login(url, user)
    first = login(url, user)
    second = refresh(url, first["refreshToken"]).json()
    third = refresh(url, second["refreshToken"]).json()
    response = requests.post(f"{url}/users/logout", headers=bearer(second["token"]), timeout=10)
    assert response.status_code == 401  # retired by the refresh that issued `third`
    assert requests.post(f"{url}/users/logout", headers=bearer(third["token"]),
                         timeout=10).status_code == 200
    for token in (first["token"], second["token"], third["token"]):
        assert not works(url, [token])
    assert refresh(url, third["refreshToken"]).status_code == 401
    assert works(url, [other["token"], ("refresh", other["refreshToken"])])


def test_a_logout_with_a_refresh_token_ends_that_family(production_auth, db):
    """The refresh token sent to /logout ends its own family (of the same account)."""
    url = production_auth.url
    user = make_user(db)
    current, elsewhere = login(url, user), login(url, user)
    response = requests.post(f"{url}/users/logout", headers=bearer(current["token"]),
                             json={"refreshToken": elsewhere["refreshToken"]}, timeout=10)
    assert response.status_code == 200
    assert not works(url, [elsewhere["token"], ("refresh", elsewhere["refreshToken"])])


def test_a_family_logout_ends_the_sockets_of_its_older_tokens(served_auth, served_realtime,
                                                                db, clients):
    """A socket connected with a token that a refresh replaced lives on with its family,
    and ends when the family logs out."""
    user = make_user(db)
    first = login(served_auth.url, user)
    tab = clients(served_realtime.url, first["token"])
    second = refresh(served_auth.url, first["refreshToken"]).json()
    assert requests.get(f"{served_auth.url}/users/profile", headers=bearer(first["token"]),
                        timeout=10).status_code == 401
    with pytest.raises(TimeoutError):
        tab.wait_for("session-revoked", timeout=1.5)
    assert tab.connected
    assert requests.post(f"{served_auth.url}/users/logout", headers=bearer(second["token"]),
                         timeout=10).status_code == 200
    assert tab.wait_for("session-revoked", timeout=3) == {
        "message": "Your session has been revoked, please log in again"}

"""The token check answers the blacklist from each process's copy (shared/accounts/revoked_jtis.py):
the revoking process refuses at once, every other within REVOCATION_POLL_SECONDS, a
process started later at once, and a request costs one query, not a lookup of the
blacklist."""
import time

import requests
from pymongo import monitoring

from ..conftest import make_config, serve
from ..factories import make_user, token_for

POLL_SECONDS = 0.5  # Config.REVOCATION_POLL_SECONDS
MARGIN = 0.3


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def until_refused(url, token, deadline_s):
    """Seconds until `url` refuses `token` (None if it never did within `deadline_s`)."""
    started = time.monotonic()
    while time.monotonic() - started < deadline_s:
        if requests.get(url, headers=bearer(token), timeout=5).status_code == 401:
            return time.monotonic() - started
        time.sleep(0.01)
    return None


def test_the_revoking_process_refuses_at_once(served_auth, db):
    user = make_user(db)
    token = token_for(user)
    profile = f"{served_auth.url}/users/profile"
    assert requests.get(profile, headers=bearer(token)).status_code == 200
    assert requests.post(f"{served_auth.url}/users/logout",
                         headers=bearer(token)).status_code == 200
    answer = requests.get(profile, headers=bearer(token))
    assert answer.status_code == 401 and answer.json()["message"] == "Token has been revoked"


def test_another_process_refuses_within_the_poll(served_auth, served_realtime, db):
    rides = f"{served_realtime.url}/rides"
    for _ in range(5):  # a few tries, so that the logout lands at various poll phases
        user = make_user(db)
        token = token_for(user)
        assert requests.get(rides, headers=bearer(token)).status_code == 200
        assert requests.post(f"{served_auth.url}/users/logout",
                             headers=bearer(token)).status_code == 200
        waited = until_refused(rides, token, deadline_s=5)
        assert waited is not None and waited <= POLL_SECONDS + MARGIN, waited


def test_a_process_started_later_refuses_at_once(served_auth, mongo_uri, db, tmp_path):
    user = make_user(db)
    token = token_for(user)
    assert requests.post(f"{served_auth.url}/users/logout",
                         headers=bearer(token)).status_code == 200
    fresh = serve("auth_service", mongo_uri, tmp_path, REVOCATION_POLL_SECONDS=600)
    try:
        answer = requests.get(f"{fresh.url}/users/profile", headers=bearer(token))
        assert answer.status_code == 401 and answer.json()["message"] == "Token has been revoked"
    finally:
        fresh.stop()


class Commands(monitoring.CommandListener):
    """Records the commands of the clients made while it is `active`."""

    def __init__(self):
        self.names, self.active = [], True

    def started(self, event):
        if self.active and event.command_name not in ("hello", "isMaster", "endSessions"):
            self.names.append((event.command_name, event.command.get(event.command_name)))

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


def test_a_valid_token_costs_one_query(mongo_uri, db):
    from auth_service.app import create_app

    listener = Commands()
    monitoring.register(listener)  # for clients made from now on: this app's own URI's
    own_uri = mongo_uri + ("&" if "?" in mongo_uri else "?") + "appname=one-query-test"
    try:
        app = create_app(make_config(own_uri, REVOCATION_POLL_SECONDS=600))
        client = app.test_client()
        token = token_for(make_user(db))
        assert client.get("/users/profile", headers=bearer(token)).status_code == 200
        listener.names.clear()  # the first check also read the blacklist
        for _ in range(3):
            assert client.get("/users/profile", headers=bearer(token)).status_code == 200
        assert listener.names == [("find", "users")] * 3
    finally:
        listener.active = False

"""Races against the real gevent server process, and bcrypt off the event loop."""
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from ..auth_api import captain_body, user_body


def post_all(url, bodies):
    def send(body):
        with requests.Session() as session:  # one connection per thread
            return session.post(url, json=body, timeout=30)

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(send, bodies))


def test_concurrent_registrations_of_one_email_give_one_201(served_auth, db):
    bodies = [user_body(email="race@example.com", fullname={"firstname": f"Racer{n}"})
              for n in range(20)]
    responses = post_all(f"{served_auth.url}/users/register", bodies)
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [409] * 19
    assert all(r.json() == {"message": "Email already registered"}
               for r in responses if r.status_code == 409)
    assert db.users.count_documents({"email": "race@example.com"}) == 1


def test_concurrent_registrations_of_one_plate_give_one_201(served_auth, db):
    vehicle = {"color": "white", "plate": "DL 1C 9999", "capacity": 4, "vehicleType": "car"}
    bodies = [captain_body(vehicle=vehicle) for _ in range(10)]
    responses = post_all(f"{served_auth.url}/captains/register", bodies)
    assert sorted(r.status_code for r in responses) == [201] + [409] * 9
    assert db.captains.count_documents({"vehicle.plate": "DL 1C 9999"}) == 1


def test_concurrent_use_of_one_refresh_token_has_one_winner(served_auth, db):
    user = requests.post(f"{served_auth.url}/users/register", json=user_body()).json()
    responses = post_all(f"{served_auth.url}/auth/refresh",
                         [{"refreshToken": user["refreshToken"]}] * 8)
    codes = sorted(r.status_code for r in responses)
    assert codes.count(200) == 1 and codes.count(401) == 7
    # The losers look like a replay, so the family (winner included) is revoked.
    winner = next(r.json() for r in responses if r.status_code == 200)
    again = requests.post(f"{served_auth.url}/auth/refresh",
                          json={"refreshToken": winner["refreshToken"]})
    assert again.status_code == 401


OFF_LOOP = textwrap.dedent("""
    from gevent import monkey
    monkey.patch_all()
    import gevent
    from flask import Flask
    from shared.accounts import passwords

    app = Flask("t")
    app.config.update(BCRYPT_ROUNDS=12, BCRYPT_MAX_CONCURRENCY=2)
    in_flight = peak = 0
    real_hash = passwords.bcrypt_hash

    def counting_hash(password, salt):
        global in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            return real_hash(password, salt)
        finally:
            in_flight -= 1

    passwords.bcrypt_hash = counting_hash
    ticks = 0
    def ticker():
        global ticks
        while True:
            gevent.sleep(0.005)
            ticks += 1

    def work():
        with app.app_context():
            hashed = passwords.hash_password("secret123")
            assert passwords.check_password("secret123", hashed)
            assert not passwords.check_password("wrong-pass", hashed)

    t = gevent.spawn(ticker)
    gevent.joinall([gevent.spawn(work) for _ in range(4)], raise_error=True)
    t.kill()
    print(ticks, peak)
""")


@pytest.mark.slow  # a dozen bcrypt hashes at cost 12 in a subprocess
def test_bcrypt_runs_off_the_loop_with_capped_concurrency():
    """Under gevent, hashing at cost 12 leaves the loop free (a ticker greenlet keeps
    running) and never more than BCRYPT_MAX_CONCURRENCY hashes run at once."""
    result = subprocess.run([sys.executable, "-c", OFF_LOOP], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    ticks, peak = map(int, result.stdout.split())
    assert peak == 2
    # 4 hashes + 8 checks at cost 12 take well over 0.5 s; a blocked loop would tick ~0.
    assert ticks > 20

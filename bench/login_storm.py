"""Scenario 4: login storm. Does bcrypt stall the auth service, and how close do logins
get to what the CPU allows?

The auth service runs under gunicorn (deploy/gunicorn_auth.py: one gevent worker
per core, bcrypt in each worker's thread pool) at BCRYPT_ROUNDS. CLIENTS threads
log one account in, back to back, for SECONDS; another thread polls GET /healthz
every 10 ms on its own keep-alive connection, idle first, then during the storm.
The bcrypt limit is cores / the time of one hash at that cost, measured in this
run. With bcrypt on the event loop, healthz would wait for every queued hash
(hundreds of ms); off the loop it stays in the low milliseconds.

    .venv/bin/python -m bench 4            (or: python -m bench.login_storm [tiny])
"""
import os
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import bcrypt
import requests

from bench import common
from bench.loadclient import percentiles
from shared.accounts import passwords

# Cost 10 as in the Node peers' measurement (BENCHMARKS.md); the service default is 12
# (4x the work per hash).
SIZES = {
    "full": {"clients": 16, "seconds": 20.0, "rounds": 10, "idle_s": 2.0},
    "tiny": {"clients": 2, "seconds": 1.0, "rounds": 4, "idle_s": 0.3},
}
EMAIL = "storm@example.com"


def poll_healthz(url, stop, samples):
    with requests.Session() as session:
        while not stop.is_set():
            started = time.perf_counter()
            session.get(f"{url}/healthz", timeout=10).raise_for_status()
            samples.append((time.perf_counter() - started) * 1000)
            time.sleep(0.01)


def polled(url, action):
    """healthz latencies (ms) while `action()` runs; returns (samples, action's result)."""
    samples, stop = [], threading.Event()
    poller = threading.Thread(target=poll_healthz, args=(url, stop, samples))
    poller.start()
    try:
        result = action()
    finally:
        stop.set()
        poller.join()
    return samples, result


def storm(url, clients, seconds, email=EMAIL):
    """`clients` threads logging `email` in back to back until `seconds` are over."""
    deadline = time.monotonic() + seconds

    def client(_):
        done, statuses = [], {}
        with requests.Session() as session:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                response = session.post(f"{url}/users/login",
                                        json={"email": email, "password": common.PASSWORD},
                                        timeout=60)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                done.append((time.perf_counter() - started) * 1000)
        return done, statuses

    started = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        parts = list(pool.map(client, range(clients)))
    return time.monotonic() - started, parts


def summed_statuses(parts):
    """{status: count} over the `(latencies, statuses)` parts that `storm` returns."""
    statuses = {}
    for _, part in parts:
        for code, count in part.items():
            statuses[str(code)] = statuses.get(str(code), 0) + count
    return statuses


def hash_seconds(rounds, samples=5):
    """Median time of one bcrypt check at `rounds`, in this process, with the service's
    own implementation (`passwords.bcrypt_check`: libcrypt's or the bcrypt package's)."""
    hashed = bcrypt.hashpw(b"x" * 16, bcrypt.gensalt(rounds))
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        passwords.bcrypt_check(b"x" * 16, hashed)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bcrypt_limit(logins_per_s, one_hash):
    """`(limit, share)`: the logins per second the cores allow (cores / the time of one
    hash) and the share of it reached."""
    limit = (os.cpu_count() or 1) / one_hash
    return limit, round(logins_per_s / limit, 2)


def run(size="full", out_dir=None):
    cfg = SIZES[size]
    with common.Stack("login_storm") as stack:
        service = stack.serve("auth_service", BCRYPT_ROUNDS=cfg["rounds"])
        requests.post(f"{service.url}/users/register", json={
            "fullname": {"firstname": "Storm"}, "email": EMAIL, "password": common.PASSWORD},
            timeout=30).raise_for_status()
        one_hash = hash_seconds(cfg["rounds"])
        idle, _ = polled(service.url, lambda: time.sleep(cfg["idle_s"]))
        meter = common.CpuMeter(server=service.proc.pid, db=stack.db_server.proc.pid)
        during, (elapsed, parts) = polled(
            service.url, lambda: storm(service.url, cfg["clients"], cfg["seconds"]))
        usage = meter.read()
    statuses = summed_statuses(parts)
    logins = statuses.get("200", 0)
    limit, share = bcrypt_limit(logins / elapsed, one_hash)
    result = {
        "size": size, "config": cfg, "statuses": statuses,
        "logins_per_s": round(logins / elapsed, 1), "bcrypt_hash_ms": round(one_hash * 1000, 1),
        "bcrypt_limit_per_s": round(limit, 1), "share_of_bcrypt_limit": share,
        "login_ms": percentiles([ms for done, _ in parts for ms in done]),
        "healthz_idle_ms": percentiles(idle), "healthz_storm_ms": percentiles(during),
        "cpu": usage,
    }
    common.write_result("login_storm", result, out_dir)
    print(f"[login_storm] bcrypt cost {cfg['rounds']}, {cfg['clients']} clients for "
          f"{cfg['seconds']:.0f} s: {result['logins_per_s']} logins/s, bcrypt limit "
          f"{result['bcrypt_limit_per_s']}/s ({result['bcrypt_hash_ms']} ms/hash x "
          f"{os.cpu_count()} cores); healthz p99 idle {_p99(idle)} ms, storm {_p99(during)} ms",
          flush=True)
    return result


def _p99(samples):
    return (percentiles(samples) or {}).get("p99")


if __name__ == "__main__":
    import sys

    run(sys.argv[1] if len(sys.argv) > 1 else "full")

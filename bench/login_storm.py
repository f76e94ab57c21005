"""Login storm: does bcrypt stall the event loop of the auth service?

Starts a throwaway SecantusDB and `python -m auth_service` (the gevent server) at
BCRYPT_ROUNDS=12, registers one account, then fires CONCURRENCY logins at once from
threads while another thread polls GET /healthz every 10 ms on its own keep-alive
connection. Prints the healthz latency (max, p99, p50) during the storm and the
login throughput. With bcrypt on the loop, healthz waits for every queued hash
(hundreds of ms); off the loop it stays in the low milliseconds.

    .venv/bin/python bench/login_storm.py [--concurrency 8] [--rounds 12] [--waves 3]
"""
import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devserver.processes import EmbeddedMongo, Service, free_port  # noqa: E402

EMAIL, PASSWORD = "storm@example.com", "storm-password-1"


def percentile(values, pct):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def poll_healthz(url, stop, samples):
    with requests.Session() as session:
        while not stop.is_set():
            started = time.perf_counter()
            session.get(f"{url}/healthz", timeout=10).raise_for_status()
            samples.append((time.perf_counter() - started) * 1000)
            time.sleep(0.01)


def storm(url, concurrency, waves):
    def login(_):
        with requests.Session() as session:
            response = session.post(f"{url}/users/login",
                                    json={"email": EMAIL, "password": PASSWORD}, timeout=60)
            assert response.status_code == 200, response.text
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for _ in range(waves):
            list(pool.map(login, range(concurrency)))
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--waves", type=int, default=3, help="storms of N logins in a row")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        db = EmbeddedMongo(log_path=Path(tmp) / "db.log").start()
        port = free_port()
        env = {"MONGO_URI": db.uri("bench"), "AUTH_PORT": str(port), "HOST": "127.0.0.1",
               "BCRYPT_ROUNDS": str(args.rounds), "RATELIMIT_ENABLED": "false",
               "LOG_LEVEL": "WARNING"}
        service = Service("auth_service", port, env, log_path=Path(tmp) / "auth.log").start()
        try:
            register = requests.post(f"{service.url}/users/register", json={
                "fullname": {"firstname": "Storm"}, "email": EMAIL, "password": PASSWORD})
            register.raise_for_status()

            idle = []
            stop = threading.Event()
            poller = threading.Thread(target=poll_healthz, args=(service.url, stop, idle))
            poller.start()
            time.sleep(1.0)
            stop.set()
            poller.join()

            samples = []
            stop = threading.Event()
            poller = threading.Thread(target=poll_healthz, args=(service.url, stop, samples))
            poller.start()
            time.sleep(0.1)
            elapsed = storm(service.url, args.concurrency, args.waves)
            stop.set()
            poller.join()
        finally:
            service.stop()
            db.stop()

    logins = args.concurrency * args.waves
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPUs, load average {load} (other processes share "
          "the CPUs: a load above the CPU count inflates every number below)")
    print(f"bcrypt cost {args.rounds}, {args.concurrency} concurrent logins x {args.waves} "
          f"waves: {logins} logins in {elapsed:.2f} s ({logins / elapsed:.1f}/s)")
    print(f"healthz idle:   n={len(idle)} p50={statistics.median(idle):.1f} ms "
          f"p99={percentile(idle, 99):.1f} ms max={max(idle):.1f} ms")
    print(f"healthz storm:  n={len(samples)} p50={statistics.median(samples):.1f} ms "
          f"p99={percentile(samples, 99):.1f} ms max={max(samples):.1f} ms")


if __name__ == "__main__":
    main()

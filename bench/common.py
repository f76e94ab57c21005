"""The stack a scenario measures, and what every scenario reports.

`Stack` starts a throwaway SecantusDB, optionally a redis-server, and the services
under gunicorn with their production configs (deploy/gunicorn_*.py), all on
127.0.0.1. It seeds accounts straight into the database and signs their tokens
with the services' secret. `proc_stats` reads CPU and memory from /proc so that
the server, the database and the load clients each report their own share.
"""
import contextlib
import itertools
import json
import math
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import bcrypt
import redis
from bson import ObjectId
from pymongo import MongoClient

from devserver.processes import EmbeddedMongo
from shared.serialize import now
from tests.harness import GunicornService, RedisServer, free_port

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SECRET = "bench-secret-" + "x" * 32
PASSWORD = "bench-password-1"
PICKUP = {"lat": 12.9716, "lng": 77.5946, "address": "MG Road"}
DESTINATION = {"lat": 12.9352, "lng": 77.6245, "address": "Koramangala"}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class Servers:
    """A SecantusDB and a redis-server; shared by the scenarios of one `python -m bench`
    run (`shared_servers()`), each scenario on its own database."""

    def __init__(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="ridewire-bench-"))
        self.db_server = EmbeddedMongo(free_port(), log_path=self.tmp / "secantusd.log")
        self.redis_proc = self.redis_url = None
        self.databases = itertools.count(1)

    def start(self, redis_server):
        if not self.db_server.running():
            self.db_server.start()
        if redis_server and self.redis_proc is None:
            self.redis_proc = RedisServer(self.tmp).start(timeout=10)
            self.redis_url = self.redis_proc.url
        return self

    def stop(self):
        if self.redis_proc:
            self.redis_proc.stop()
        self.db_server.stop()
        if os.environ.get("BENCH_KEEP_LOGS"):  # a directory: the servers' logs go there
            keep = Path(os.environ["BENCH_KEEP_LOGS"])
            keep.mkdir(parents=True, exist_ok=True)
            for log in self.tmp.glob("*.log"):
                shutil.copy(log, keep / log.name)
        shutil.rmtree(self.tmp, ignore_errors=True)


_shared = []


@contextlib.contextmanager
def shared_servers():
    servers = Servers()
    _shared.append(servers)
    try:
        yield servers
    finally:
        _shared.remove(servers)
        servers.stop()


class Stack:
    """Database (+ Redis) + services for one scenario; a context manager."""

    def __init__(self, name, redis_server=False, own_servers=False):
        self.name = name
        self.profilers = []
        self.own = own_servers or not _shared
        self.servers = Servers() if self.own else _shared[-1]
        self.want_redis = redis_server
        self.services = []

    def __enter__(self):
        self.servers.start(self.want_redis)
        self.tmp, self.db_server = self.servers.tmp, self.servers.db_server
        self.uri = self.db_server.uri(f"bench{next(self.servers.databases)}")
        self.client = MongoClient(self.uri, tz_aware=True)
        self.db = self.client.get_default_database()
        self.redis_url = self.servers.redis_url if self.want_redis else None
        if self.redis_url:  # no presence left over from an earlier scenario
            with redis.Redis.from_url(self.redis_url) as client:
                client.flushall()
        return self

    def serve(self, module, config=None, **env):
        """Start `module` under gunicorn (deploy/gunicorn_<name>.py, or the gunicorn
        settings file `config`); return it."""
        port = free_port()
        port_var = "AUTH_PORT" if module == "auth_service" else "REALTIME_PORT"
        full_env = {"APP_ENV": "production", "JWT_SECRET_KEY": SECRET, "HOST": "127.0.0.1",
                    "MONGO_URI": self.uri, "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "INFO"),
                    "RATELIMIT_ENABLED": "false", port_var: str(port),
                    # A load test keeps more sockets than the default per worker, all
                    # from this one address.
                    "WORKER_CONNECTIONS": "12000", "SOCKET_MAX_PER_ADDRESS": "0"}
        if self.redis_url:
            full_env["REDIS_URL"] = self.redis_url
        full_env.update({key: str(value) for key, value in env.items()})
        log = self.tmp / f"{module}-{port}.log"
        service = GunicornService(module, port, full_env, log_path=log,
                                  config=config).start(timeout=60)
        self.services.append(service)
        if os.environ.get("BENCH_PROFILE"):
            self._profile(service, module)
        return service

    def _profile(self, service, module):
        """BENCH_PROFILE=1: sample the service's processes with py-spy for the whole
        scenario, into bench/profiles/<scenario>-<service>-<n>.txt (collapsed
        stacks: `python -m bench.hotspots FILE`, or any flame graph tool)."""
        out = ROOT / "bench" / "profiles"
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"{self.name}-{module}-{len(self.services)}.txt"
        self.profilers.append(subprocess.Popen(
            [str(Path(sys.executable).with_name("py-spy")), "record", "--pid",
             str(service.proc.pid), "--subprocesses", "--nonblocking", "--rate", "100",
             "--format", "raw", "--output", str(path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def __exit__(self, *exc):
        for profiler in self.profilers:  # SIGINT: py-spy writes its file and exits
            profiler.send_signal(signal.SIGINT)
            profiler.wait(30)
        for service in reversed(self.services):
            service.stop()
        self.client.drop_database(self.db.name)
        self.client.close()
        if self.own:
            self.servers.stop()

    # Seeding ----------------------------------------------------------------------

    def seed(self, role, count, around=None, radius_km=2.0, vehicle_type="car"):
        """Insert `count` accounts of `role` (captains active, within `radius_km` of
        `around`, reported there now); return their documents."""
        password = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
        docs, stamp, rng = [], now(), random.Random(count)
        for n in range(count):
            oid = ObjectId()
            doc = {"_id": oid, "fullname": {"firstname": f"Bench{n:05d}", "lastname": "Load"},
                   "email": f"{role}{n}-{oid}@bench.example", "password": password, "bio": "",
                   "profilePic": None, "socketId": None, "tokenVersion": 0,
                   "tokensRevokedAt": None, "createdAt": stamp, "updatedAt": stamp}
            if role == "captain":
                doc.update(vehicle={"color": "black", "plate": f"B-{oid}", "capacity": 4,
                                    "vehicleType": vehicle_type},
                           status="active", location=_point_near(around or PICKUP, radius_km, rng),
                           locationUpdatedAt=stamp)
            docs.append(doc)
        collection = self.db["users" if role == "user" else "captains"]
        for start in range(0, len(docs), 1000):
            collection.insert_many(docs[start:start + 1000], ordered=False)
        return docs


def _point_near(center, radius_km, rng):
    distance, bearing = radius_km * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
    dlat = distance / 111.2 * math.cos(bearing)
    dlng = distance / (111.2 * math.cos(math.radians(center["lat"]))) * math.sin(bearing)
    return {"type": "Point", "coordinates": [center["lng"] + dlng, center["lat"] + dlat]}


def tokens_for(docs, role):
    """Access tokens as the auth service issues them (shared.accounts.tokens)."""
    from flask import Flask

    from shared.accounts.tokens import init_tokens, issue_access_token
    from shared.config import Config

    app = Flask("bench-tokens")
    app.config.from_object(Config)
    app.config["JWT_SECRET_KEY"] = SECRET
    init_tokens(app)
    with app.app_context():
        return [issue_access_token(doc, role)[0] for doc in docs]


# Measuring -------------------------------------------------------------------------

def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(child) for child in handle.read().split()]
    except OSError:
        return []


def process_tree(pid):
    pids, queue = [], [pid]
    while queue:
        current = queue.pop()
        pids.append(current)
        queue.extend(_children(current))
    return pids


def proc_stats(pid):
    """{"cpu_s": user+system seconds, "rss_mb": resident MiB} of a process and its
    descendants (a gunicorn master and its workers)."""
    cpu, rss = 0.0, 0
    for one in process_tree(pid):
        try:
            with open(f"/proc/{one}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
            with open(f"/proc/{one}/status") as handle:
                rss += next(int(line.split()[1]) for line in handle if line.startswith("VmRSS"))
        except (OSError, StopIteration):
            continue
    return {"cpu_s": round(cpu, 2), "rss_mb": round(rss / 1024, 1)}


def worker_pid(service):
    """The gunicorn worker of a one-worker service (the process holding the sockets)."""
    children = _children(service.proc.pid)
    return children[0] if children else service.proc.pid


class CpuMeter:
    """CPU seconds used between start() and read(), per named process tree."""

    def __init__(self, **pids):
        self.pids = pids
        self.start()

    def start(self):
        self.started = time.monotonic()
        self.base = {name: proc_stats(pid)["cpu_s"] for name, pid in self.pids.items()}

    def read(self):
        wall = time.monotonic() - self.started
        used = {name: round(proc_stats(pid)["cpu_s"] - self.base[name], 2)
                for name, pid in self.pids.items()}
        return {"wall_s": round(wall, 2), "cpu_s": used,
                "cpu_pct": {name: round(100 * cpu / wall, 1) if wall else 0.0
                            for name, cpu in used.items()}}


def machine():
    versions = {name: _version(name) for name in (
        "flask", "flask-socketio", "python-socketio", "python-engineio", "gevent", "gunicorn",
        "simple-websocket", "pymongo", "secantusdb", "redis", "bcrypt")}
    redis_version = subprocess.run([shutil.which("redis-server") or "redis-server", "--version"],
                                   capture_output=True, text=True).stdout.split(" v=")[-1]
    return {"cpus": os.cpu_count(), "cpu_model": _cpu_model(), "python": sys.version.split()[0],
            "platform": platform.platform(), "loadavg": os.getloadavg(),
            "redis_server": redis_version.split()[0] if redis_version else None,
            "versions": versions}


def _version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as handle:
            return next(line.split(":", 1)[1].strip() for line in handle
                        if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor()


def write_result(name, result, out_dir=None):
    """bench/results/<name>.json (or out_dir/<name>.json), with the machine and time."""
    out = Path(out_dir or RESULTS)
    out.mkdir(parents=True, exist_ok=True)
    document = {"scenario": name, "taken_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "machine": machine(), **result}
    (out / f"{name}.json").write_text(json.dumps(document, indent=2) + "\n")
    return document


def wait_idle(pids, below_pct=15.0, window=0.5, timeout=180.0):
    """Wait until every process tree in `pids` uses under `below_pct` of a core over a
    `window` (e.g. a server done flushing a presence storm); return the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        before = [proc_stats(pid)["cpu_s"] for pid in pids]
        time.sleep(window)
        after = [proc_stats(pid)["cpu_s"] for pid in pids]
        if all(100 * (b - a) / window < below_pct for a, b in zip(before, after, strict=True)):
            break
    return round(time.monotonic() - started, 2)

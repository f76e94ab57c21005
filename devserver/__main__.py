"""`make run`: the embedded database (unless MONGO_URI is set), both services and the
gateway in front of them (GATEWAY_PORT: one origin for frontends, serving FRONTEND_DIR),
started together; once every service is ready (/readyz: database and indexes), the
banner, demo accounts with random passwords in an empty embedded database (`flask
seed-demo`; SEED_DEMO, never with APP_ENV=production) and, in the background, the
maps gazetteer (`flask seed-places`; maps answer from memory until it ends).

What would make a start fail confusingly is checked first (a port taken, an invalid or
unreachable MONGO_URI): every failure is one message and a non-zero exit, never a
traceback. A child that exits is named with its last lines and the others are stopped.
Ctrl-C or SIGTERM, at any moment, stops everything quietly (exit 0).
"""
# ruff: noqa: E402 (the imports come after the first signal handlers)
import os
import signal
import sys

if __name__ == "__main__":  # a Ctrl-C during the imports below: nothing started yet
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))

import errno
import socket
import subprocess
import threading
import time

from devserver.gateway import Frontend, connect_host
from devserver.processes import Child, EmbeddedMongo, Gateway, Service, die_with_parent, stop_all
from shared.config import Config
from shared.db import mask_uri

READY_TIMEOUT = 60  # seconds for a child to answer (a service: to be ready)
SEED_TIMEOUT = 120  # seconds for seed-demo, then for seed-places (in the background)
# Where the services listen: HOST, a wildcard made this machine's loopback (only the
# gateway listens on every interface). On the loopback they trust one proxy hop (the
# gateway's X-Forwarded-For); elsewhere clients could write that header.
SERVICES_HOST = connect_host(Config.HOST)
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class Interrupted(Exception):
    """Ctrl-C (SIGINT) or SIGTERM: stop what started, quietly."""


class StartupError(Exception):
    """Why `make run` cannot go on: its message is all the user needs to see."""


def _interrupt(*_):
    raise Interrupted


def _set_signals(handler):
    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def main():
    children = []
    _set_signals(_interrupt)
    try:
        return run(children)
    except Interrupted:
        _set_signals(signal.SIG_IGN)
        os.write(1, b"stopping (Ctrl-C)\n")  # not print: a relay may hold stdout's lock
        return 0
    except StartupError as error:
        _set_signals(signal.SIG_IGN)
        print(f"make run: {error}", file=sys.stderr, flush=True)
        return 1
    finally:
        _set_signals(signal.SIG_IGN)  # a second Ctrl-C must not cut the stop short
        stop_all(list(reversed(children)))


def run(children):
    """Check, start everything, show the banner once all is ready, then watch."""
    frontend = check_frontend(Config.FRONTEND_DIR)
    embedded = not os.environ.get("MONGO_URI")
    check_ports(embedded)
    check_secret()
    env = {}
    if embedded:
        data_dir = os.environ.get("DATA_DIR", ".data/db")
        print(f"starting SecantusDB on 127.0.0.1:{Config.DB_PORT} (data in {data_dir}; "
              "`make reset` empties it)", flush=True)
        db = EmbeddedMongo(Config.DB_PORT, data_dir, sync_on_commit=True)
        env["MONGO_URI"] = db.uri()
        start(children, db)
    else:
        check_mongo(Config.MONGO_URI, Config.MONGO_TIMEOUT_MS)
    hops = {"TRUSTED_PROXY_HOPS": "1"} if SERVICES_HOST in LOOPBACK else {}
    services = [Service(module, port, {**env, "HOST": SERVICES_HOST, **hops}) for module, port
                in (("auth_service", Config.AUTH_PORT), ("realtime_service", Config.REALTIME_PORT))]
    for service in services:
        service.HEALTH = "/readyz"  # the banner only once every feature answers
    start(children, *services, Gateway(Config.GATEWAY_PORT, env))
    print_banner(frontend)
    if demo_wanted(embedded):
        seed("auth_service", "seed-demo", env, every=True)
    places = ("realtime_service", "seed-places", env)
    threading.Thread(target=seed, args=places, daemon=True).start()
    print("Ctrl-C stops everything.", flush=True)
    while True:  # until Ctrl-C, or a child exits
        try:
            check_running(children)
        except StartupError as error:
            print(f"make run: {error}\nmake run: stopping the others", file=sys.stderr,
                  flush=True)
            return 1
        time.sleep(0.3)


def check_ports(embedded):
    """StartupError naming every port that is taken, before anything starts."""
    wanted = [("AUTH_PORT", Config.AUTH_PORT, "auth_service", SERVICES_HOST),
              ("REALTIME_PORT", Config.REALTIME_PORT, "realtime_service", SERVICES_HOST),
              ("GATEWAY_PORT", Config.GATEWAY_PORT, "the gateway", Config.HOST)]
    if embedded:
        wanted.insert(0, ("DB_PORT", Config.DB_PORT, "the embedded SecantusDB", "127.0.0.1"))
    problems, seen = [], {}
    for variable, port, who, host in wanted:
        if port in seen:
            problems.append(f"{variable}={port} is also {seen[port]}'s port: set "
                            f"{variable} to another port")
        elif error := bind_error(port, host):
            problems.append(
                f"port {port} ({who}) is already in use: set {variable}=<another port> or "
                "stop the other process (another `make run`?)" if error.errno == errno.EADDRINUSE
                else f"cannot listen on {host}:{port} ({who}): {error.strerror or error}")
        seen.setdefault(port, variable)
    if problems:
        raise StartupError("\nmake run: ".join(problems))


def check_secret():
    """StartupError when the development JWT secret (no JWT_SECRET_KEY set: a random one
    kept beside DATA_DIR, which both services read) cannot be made or read."""
    try:
        if not Config.JWT_SECRET_KEY:
            raise RuntimeError("JWT_SECRET_KEY is empty")
    except (OSError, RuntimeError) as error:
        raise StartupError(f"no JWT secret: {error}") from None


def bind_error(port, host):
    """The OSError binding `host:port` fails with, else None (SO_REUSEADDR, as servers
    set it: connections in TIME_WAIT do not count)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as error:
            return error
    return None


def check_mongo(uri, timeout_ms):
    """StartupError when MONGO_URI is not a MongoDB URI naming a database, or when the
    database does not answer a ping within `timeout_ms` (MONGO_TIMEOUT_MS)."""
    from pymongo import MongoClient, uri_parser
    from pymongo.errors import ConnectionFailure, PyMongoError

    masked = mask_uri(uri)
    try:
        parsed = uri_parser.parse_uri(uri, connect_timeout=timeout_ms / 1000)
    except (PyMongoError, ValueError) as error:
        raise StartupError(f"MONGO_URI={masked} is not a valid MongoDB URI ({error}); "
                           "expected mongodb://[user:password@]host[:port]/database") from None
    if not parsed.get("database"):
        raise StartupError(f"MONGO_URI={masked} names no database; add one: "
                           "mongodb://host:port/ridewire")
    client = MongoClient(uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms)
    try:
        client.admin.command("ping")
    except ConnectionFailure:
        raise StartupError(
            f"cannot reach MongoDB at {masked} — is it running? Start it, correct "
            f"MONGO_URI, or unset MONGO_URI to use the embedded database (waited "
            f"{timeout_ms} ms: MONGO_TIMEOUT_MS)") from None
    except PyMongoError as error:
        raise StartupError(f"MongoDB at {masked} refused us: {error}") from None
    finally:
        client.close()


def start(children, *started):
    """Start each child in a process group of its own, all at once, then wait until each
    is ready; StartupError (with its last lines) if one exits or is not ready in time."""
    for child in started:
        child.own_group = True
        children.append(Child.start(child))
    for child in started:
        try:
            child.wait_until(child.ready, READY_TIMEOUT)
        except RuntimeError:
            raise StartupError(exited(child)) from None
        except TimeoutError:
            raise StartupError(exited(child, f"was not ready within {READY_TIMEOUT} s")) from None


def check_running(children):
    """StartupError naming the first child that exited."""
    for child in children:
        if not child.running():
            raise StartupError(exited(child))


def exited(child, how=None):
    """The child's name, how it ended (or `how`) and its last lines."""
    code = child.proc.returncode
    how = how or (f"was killed by {signal.Signals(-code).name}" if code < 0
                  else f"exited with code {code}")
    lines = "\n".join(f"    {line}" for line in child.last_lines())
    return f"{child.name} {how}" + (f"; its last lines:\n{lines}" if lines else " (no output)")


def check_frontend(directory):
    """The Frontend of FRONTEND_DIR (None when unset); StartupError when it cannot be
    served, a warning when it has no index.html."""
    if not directory:
        return None
    try:
        frontend = Frontend(directory)
    except OSError as error:
        raise StartupError(f"FRONTEND_DIR={directory}: {error.strerror or error}") from None
    if frontend.index is None:
        print(f"FRONTEND_DIR={directory} has no index.html: no single-page-app fallback",
              file=sys.stderr)
    return frontend


def print_banner(frontend):
    """Every URL, the gateway's first: the one origin to point frontends at (API base
    URL and Socket.IO URL alike); then the console, the API docs and each service."""
    gateway = f"http://{Config.HOST}:{Config.GATEWAY_PORT}"
    auth = f"http://{SERVICES_HOST}:{Config.AUTH_PORT}"
    realtime = f"http://{SERVICES_HOST}:{Config.REALTIME_PORT}"
    lines = [
        "",
        "Ridewire is running:",
        f"  gateway   {gateway}  <- point your frontend here (API base URL and Socket.IO URL)",
        f"  console   {gateway}/console/  (or the realtime service's own {realtime}/)",
        f"  API docs  {gateway}/auth-service/docs  {gateway}/realtime-service/docs",
        f"            {auth}/docs  {realtime}/docs  (each service directly)",
    ]
    if frontend is not None:
        lines.append(f"  frontend  {frontend.root} served at {gateway}/")
    lines += [f"  auth      {auth}  ready", f"  realtime  {realtime}  ready"]
    print("\n".join(lines), flush=True)


def demo_wanted(embedded):
    """Whether to seed demo accounts: never with APP_ENV=production (they are dispatched
    rides), else as SEED_DEMO says, by default only in the embedded database."""
    if Config.APP_ENV == "production":
        return False
    return embedded if Config.SEED_DEMO is None else Config.SEED_DEMO


def seed(module, command, env, every=False):
    """`flask --app <module> <command>` (seeding is idempotent) in a process group of its
    own (a Ctrl-C reaches only us): every line it printed (the demo passwords, shown only
    this once) or its last, indented; or one line saying why it failed."""
    try:
        result = subprocess.run(
            [sys.executable, "-m", "flask", "--app", module, command], text=True, check=False,
            env={**os.environ, **env}, capture_output=True, timeout=SEED_TIMEOUT,
            preexec_fn=die_with_parent, process_group=0)
    except subprocess.TimeoutExpired:
        return print(f"  {command} failed: did not finish in time", file=sys.stderr, flush=True)
    if result.returncode != 0:
        last = ((result.stderr or result.stdout).strip().splitlines() or ["no output"])[-1]
        return print(f"  {command} failed: {last}", file=sys.stderr, flush=True)
    lines = result.stdout.splitlines()
    return print("\n".join(f"  {line}" for line in (lines if every else lines[-1:])), flush=True)


if __name__ == "__main__":
    sys.exit(main())

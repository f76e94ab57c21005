"""`make run`: the embedded database (unless MONGO_URI is set), both services and the
gateway in front of them (GATEWAY_PORT: one origin for frontends, serving FRONTEND_DIR
when set), then demo accounts in an empty database (`flask seed-demo`).

Stops all of them on Ctrl-C or SIGTERM; if any child dies, stops the rest and exits
non-zero.
"""
import os
import signal
import subprocess
import sys
import time

from devserver.gateway_answers import Frontend
from devserver.processes import EmbeddedMongo, Gateway, Service, flask_command, http_ok
from shared.config import Config


def main(service_class=Service):
    children = []
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    env = {}
    frontend = check_frontend(Config.FRONTEND_DIR)
    if frontend is False:
        return 2
    try:
        if not os.environ.get("MONGO_URI"):
            data_dir = os.environ.get("DATA_DIR", ".data/db")
            print(f"starting SecantusDB on 127.0.0.1:{Config.DB_PORT} (data in {data_dir})")
            db = EmbeddedMongo(Config.DB_PORT, data_dir, sync_on_commit=True)
            children.append(db.start(timeout=60))
            env["MONGO_URI"] = db.uri()
        for module, port in (("auth_service", Config.AUTH_PORT),
                             ("realtime_service", Config.REALTIME_PORT)):
            children.append(service_class(module, port, env).start(timeout=60))
        children.append(Gateway(Config.GATEWAY_PORT, env).start(timeout=30))
        print_gateway(frontend)
        for name, port in (("auth", Config.AUTH_PORT), ("realtime", Config.REALTIME_PORT)):
            ready = http_ok(f"http://127.0.0.1:{port}/readyz")
            print(f"  {name:9} http://{Config.HOST}:{port}  ready={ready}")
        print_demo_accounts(env)
        seed_places(env)
        print("Ctrl-C stops everything.", flush=True)
        while not stopping:
            if any(not child.running() for child in children):
                print("a process exited; stopping the others", file=sys.stderr)
                return 1
            time.sleep(0.3)
        return 0
    finally:
        for child in reversed(children):
            child.stop()


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


def print_gateway(frontend):
    """The gateway's URL, first: the one origin to point frontends at (API base URL and
    Socket.IO URL alike)."""
    url = f"http://{Config.HOST}:{Config.GATEWAY_PORT}"
    print(f"  gateway   {url}  <- point frontends here (API and Socket.IO); "
          f"console: {url}/console/")
    if frontend is not None:
        print(f"  frontend  {frontend.root} served at {url}/")


def print_demo_accounts(env):
    """Run `seed-demo` (it creates the demo accounts only when there are no accounts)
    and show what it says: the demo accounts and their passwords, when they exist."""
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
    """Run `seed-places` (the cities of the maps routes' embedded gazetteer; idempotent,
    the first run takes a few seconds) and show its summary."""
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
        print(f"  {last}")


if __name__ == "__main__":
    sys.exit(main())

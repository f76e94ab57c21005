"""`make run`: the embedded database (unless MONGO_URI is set) and both services.

Stops all of them on Ctrl-C or SIGTERM; if any child dies, stops the rest and exits
non-zero.
"""
import os
import signal
import sys
import time

from devserver.processes import EmbeddedMongo, Service, http_ok
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
        for name, port in (("auth", Config.AUTH_PORT), ("realtime", Config.REALTIME_PORT)):
            ready = http_ok(f"http://127.0.0.1:{port}/readyz")
            print(f"  {name:9} http://{Config.HOST}:{port}  ready={ready}")
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


if __name__ == "__main__":
    sys.exit(main())

"""The JS socket.io-client the frontends ship (4.8.1), installed with npm into a cache
outside the repository (RIDEWIRE_CACHE, default ~/.cache/ridewire) and driven from a
test through tests/js/recording_client.js, which prints what the client sees."""
import fcntl
import json
import os
import subprocess
import threading
from pathlib import Path

from tests.waiting import wait_until

VERSION = "4.8.1"
CACHE = Path(os.environ.get("RIDEWIRE_CACHE", Path.home() / ".cache" / "ridewire"))
PACKAGE = CACHE / f"socket.io-client-{VERSION}"
SCRIPT = Path(__file__).parent / "js" / "recording_client.js"


def install():
    """npm install socket.io-client into the cache, once (a lock for parallel workers)."""
    PACKAGE.mkdir(parents=True, exist_ok=True)
    with open(PACKAGE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (PACKAGE / "node_modules" / "socket.io-client" / "package.json").exists():
            subprocess.run(["npm", "install", "--prefix", str(PACKAGE), "--no-audit",
                            "--no-fund", f"socket.io-client@{VERSION}"],
                           check=True, capture_output=True, timeout=300)
    return PACKAGE / "node_modules"


class JSClient:
    """One socket.io-client in a Node process: `lines` holds what it printed."""

    def __init__(self, url, token, transport="websocket", auth=None):
        """`auth`: more of the handshake's auth payload (beside the token)."""
        env = {**os.environ, "NODE_PATH": str(install())}
        self.process = subprocess.Popen(
            ["node", str(SCRIPT), url, token, transport, json.dumps(auth or {})],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.lines = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(json.loads(line))

    def of_type(self, kind):
        return [line for line in list(self.lines) if line["type"] == kind]

    def events(self, name):
        """The argument lists of `name`, in the order received (offsets included)."""
        return [line["args"] for line in self.of_type("event") if line["event"] == name]

    def connects(self):
        return self.of_type("connect")

    def wait_connected(self, count=1, timeout=20):
        wait_until(lambda: len(self.connects()) >= count, timeout=timeout,
                   what=f"connect number {count} (saw {self.lines[-5:]})")
        return self.connects()[count - 1]

    def command(self, *words):
        """Tell the client to `disconnect`, `connect`, `drop` its transport, take a new
        `token`, or `emit` an event (its acknowledgement comes as an `ack` line)."""
        done = len(self.of_type("done"))
        self.process.stdin.write(" ".join(words) + "\n")
        self.process.stdin.flush()
        wait_until(lambda: len(self.of_type("done")) > done, what=f"{words[0]} done")

    def call(self, event, data):
        """Emit `event` with `data`; its acknowledgement."""
        acks = len(self.of_type("ack"))
        self.command("emit", event, json.dumps(data, separators=(",", ":")))
        wait_until(lambda: len(self.of_type("ack")) > acks, what=f"{event}'s ack")
        return self.of_type("ack")[acks]["ack"]

    def close(self):
        self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

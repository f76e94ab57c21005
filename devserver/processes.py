"""Child processes of `make run` (the tests and the benchmarks start theirs with these
too, tests/harness.py adds theirs): the embedded database, the services, the gateway.
Children die with their parent (PR_SET_PDEATHSIG), so
even a `kill -9` of `make run` or of the test runner leaves no orphan behind."""
import collections
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from shared.embedded import EMBEDDED_URI_OPTIONS

PR_SET_PDEATHSIG = 1


def die_with_parent():
    """A child's preexec_fn: SIGTERM when its parent dies, however it died."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def port_open(port, host="127.0.0.1"):
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


class Child:
    """A subprocess to start, wait on until it answers, and stop; its output goes to
    `log_path`, else to ours. With `own_group` (`make run`) it has a process group of its
    own (a Ctrl-C reaches only the parent, which stops it), and its output passes through
    the parent, which keeps its last lines to show if it dies."""

    KEPT_LINES = 10

    def __init__(self, name, argv, env=None, log_path=None):
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.proc = None
        self.own_group = False
        self._tail = collections.deque(maxlen=self.KEPT_LINES)

    def start(self):
        out = open(self.log_path, "ab") if self.log_path else None  # noqa: SIM115
        piped = out is None and self.own_group
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            stdout=subprocess.PIPE if piped else out,
            stderr=subprocess.STDOUT if out or piped else None,
            preexec_fn=die_with_parent,
            process_group=0 if self.own_group else None,
        )
        if out:
            out.close()
        if piped:
            threading.Thread(target=self._relay, daemon=True).start()
        return self

    def _relay(self):
        """Copy the child's output to ours, line by line, keeping the last lines."""
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self._tail.append(line)
            try:
                print(line, flush=True)
            except (OSError, ValueError):  # our stdout is gone: keep the tail only
                pass

    def last_lines(self):
        """The last lines of an `own_group` child's output."""
        time.sleep(0.1)  # let the relay read what the child wrote before it exited
        return list(self._tail)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_until(self, check, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}")
            if check():
                return self
            time.sleep(0.05)
        raise TimeoutError(f"{self.name} did not become ready in {timeout}s")

    def stop(self, timeout=10.0):
        stop_all([self], timeout)

    def kill(self):
        if self.running():
            self.proc.kill()
            self.proc.wait()


def stop_all(children, timeout=10.0):
    """Stop `children` together: SIGTERM to each, then wait for all within one
    `timeout`, then SIGKILL what is left (a stop never takes longer than that)."""
    running = [child for child in children if child.running()]
    for child in running:
        child.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for child in running:
        try:
            child.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()


def secantusd_executable():
    candidate = Path(sys.executable).with_name("secantusd-py")
    return str(candidate) if candidate.exists() else shutil.which("secantusd-py")


class EmbeddedMongo(Child):
    """A SecantusDB server (MongoDB wire protocol) on 127.0.0.1; `storage` is a
    directory, or ":memory:" for a throwaway database."""

    def __init__(self, port, storage=":memory:", sync_on_commit=False, log_path=None):
        self.port = port
        self.storage = storage
        argv = [secantusd_executable() or "secantusd-py", "--host", "127.0.0.1", "--port",
                str(self.port), "--storage-path", str(storage), "--standalone",
                "--log-level", "WARNING", *(["--sync-on-commit"] if sync_on_commit else [])]
        super().__init__("secantusdb", argv, log_path=log_path)
        if storage != ":memory:":
            Path(storage).mkdir(parents=True, exist_ok=True)

    def uri(self, database="ridewire"):
        return f"mongodb://127.0.0.1:{self.port}/{database}?{EMBEDDED_URI_OPTIONS}"

    def ready(self):
        return port_open(self.port)

    def start(self, timeout=30.0):
        super().start()
        return self.wait_until(self.ready, timeout)


def http_ok(url):
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


class Service(Child):
    """`python -m <module>` with `env` added to ours, ready when HEALTH answers."""

    HEALTH = "/healthz"

    def __init__(self, module, port, env, log_path=None):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        full_env = {**os.environ, **env}
        super().__init__(module, [sys.executable, "-m", module], full_env, log_path)

    def ready(self):
        return http_ok(self.url + self.HEALTH)

    def start(self, timeout=30.0):
        super().start()
        return self.wait_until(self.ready, timeout)


class Gateway(Service):
    """devserver/gateway.py under gunicorn on `port` (`env` names the services' ports,
    CORS_ORIGINS and FRONTEND_DIR)."""

    HEALTH = "/gateway/healthz"

    def __init__(self, port, env, log_path=None):
        super().__init__("gateway", port, {**env, "GATEWAY_PORT": str(port)}, log_path)
        self.argv = [sys.executable, "-m", "gunicorn", "-c", "python:devserver.gateway"]

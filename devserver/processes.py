"""The child processes of `make run` (also started by the tests and the benchmarks,
tests/harness.py adds theirs): the embedded database, the services, the gateway. They
die with their parent (PR_SET_PDEATHSIG): even a `kill -9` leaves no orphan behind."""
import collections
import contextlib
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
STOPS = {signal.SIGINT, signal.SIGTERM}


def die_with_parent():
    """A child's preexec_fn: SIGTERM when its parent dies, however it died; Ctrl-C and
    SIGTERM no longer held (held by the parent while it forks: `stops_held`)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOPS)
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


@contextlib.contextmanager
def stops_held():
    """Ctrl-C and SIGTERM wait while we fork: a Python handler run inside the fork's own
    clean-up (logging's at-fork lock release) is lost, its exception ignored, and it
    leaves that lock taken for the next fork."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, STOPS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def background(target, *args):
    """A daemon thread that never takes Ctrl-C or SIGTERM: the kernel gives them to the
    main thread, which holds them while it forks."""
    with stops_held():  # a thread starts with its creator's mask
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
    return thread


def port_open(port, host="127.0.0.1"):
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def http_ok(url):
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


class Child:
    """A subprocess to spawn, wait on until `ready()`, and stop; its output goes to
    `log_path`, else to ours."""

    def __init__(self, name, argv, env=None, log_path=None):
        self.name, self.argv, self.env, self.log_path = name, argv, env, log_path
        self.proc = None
        self._tail = collections.deque(maxlen=10)  # shown if it dies

    def ready(self):
        return True

    def start(self, timeout=30.0):
        """Spawn, then wait until ready."""
        return self.spawn().wait_until(self.ready, timeout)

    def spawn(self, own_group=False):
        """With `own_group` (`make run`) the child has a process group of its own (a Ctrl-C
        reaches only us, and we stop it) and its output passes through us, which keep its
        last lines to show if it dies."""
        out = open(self.log_path, "ab") if self.log_path else None  # noqa: SIM115
        piped = out is None and own_group
        with stops_held():
            self.proc = subprocess.Popen(
                self.argv, env=self.env, stdout=subprocess.PIPE if piped else out,
                stderr=subprocess.STDOUT if out or piped else None,
                preexec_fn=die_with_parent, process_group=0 if own_group else None)
        if out:
            out.close()
        if piped:
            background(self._relay)
        return self

    def _relay(self):
        """Copy the child's output to ours, line by line, keeping the last lines."""
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self._tail.append(line)
            try:  # one write a line: two children's lines never interleave
                os.write(1, f"{line}\n".encode())
            except OSError:  # our stdout is gone: keep the tail only
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


def start_together(children, timeout=30.0):
    """Spawn every child, then wait until each is ready. From one thread: a child dies
    with the thread that spawned it (PR_SET_PDEATHSIG)."""
    for child in children:
        child.spawn()
    for child in children:
        child.wait_until(child.ready, timeout)
    return children


def stop_all(children, timeout=10.0):
    """SIGTERM to each child, one `timeout` for all to exit, then SIGKILL what is left."""
    running = [child for child in children if child.running()]
    for child in running:
        child.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for child in running:
        try:
            child.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()


class EmbeddedMongo(Child):
    """A SecantusDB server (MongoDB wire protocol) on 127.0.0.1; `storage` is a
    directory, or ":memory:" for a throwaway database."""

    def __init__(self, port, storage=":memory:", sync_on_commit=False, log_path=None):
        self.port = port
        beside_python = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        argv = [shutil.which("secantusd-py", path=beside_python) or "secantusd-py",
                "--host", "127.0.0.1", "--port", str(port), "--storage-path", str(storage),
                "--standalone", "--log-level", "WARNING",
                *(["--sync-on-commit"] if sync_on_commit else [])]
        super().__init__("secantusdb", argv, log_path=log_path)
        if storage != ":memory:":
            Path(storage).mkdir(parents=True, exist_ok=True)

    def uri(self, database="ridewire"):
        return f"mongodb://127.0.0.1:{self.port}/{database}?{EMBEDDED_URI_OPTIONS}"

    def ready(self):
        return port_open(self.port)


class Service(Child):
    """`python -m <module>` with `env` added to ours, ready when `health` answers."""

    def __init__(self, module, port, env, log_path=None, health="/healthz"):
        self.port, self.health = port, health
        self.url = f"http://127.0.0.1:{port}"
        super().__init__(module, [sys.executable, "-m", module], {**os.environ, **env},
                         log_path)

    def ready(self):
        return http_ok(self.url + self.health)


class Gateway(Service):
    """devserver/gateway.py under gunicorn on `port` (`env` names the services' ports,
    CORS_ORIGINS and FRONTEND_DIR)."""

    def __init__(self, port, env, log_path=None):
        super().__init__("gateway", port, {**env, "GATEWAY_PORT": str(port)}, log_path,
                         health="/gateway/healthz")
        self.argv = [sys.executable, "-m", "gunicorn", "-c", "python:devserver.gateway"]

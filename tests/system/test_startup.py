"""`make run` start-up that explains itself, run as a subprocess on free
ports with its own data directory: ports in use, an unreachable or invalid MONGO_URI,
a process that exits, Ctrl-C at any moment, the banner; `make reset`; `.env.example`;
and the database-down timings of a service (a 503 within MONGO_TIMEOUT_MS, a liveness
probe that never waits for the database)."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from devserver.processes import Service, port_open
from tests.auth_api import user_body
from tests.harness import free_port

ROOT = Path(__file__).resolve().parents[2]
PORT_VARIABLES = ("AUTH_PORT", "REALTIME_PORT", "GATEWAY_PORT", "DB_PORT")
BANNER_END = "Ctrl-C stops everything."
TIMEOUT_MS = 1000
MARGIN_S = 1.0  # pymongo's server selection checks every 0.5 s, plus a loaded machine
# `make` without reinstalling (the marker file is taken as up to date).
MAKE = ["make", "--no-print-directory", "-o", ".venv/.installed-embedded",
        "-o", ".venv/.installed-dev"]


def run_env(tmp_path, **extra):
    """This environment with free ports, a data directory under tmp and no MONGO_URI."""
    env = {key: value for key, value in os.environ.items() if key != "MONGO_URI"}
    env.update({name: str(free_port()) for name in PORT_VARIABLES})
    env.update(DATA_DIR=str(tmp_path / "db"), LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1")
    # A short seed-places (one country, not 34,000 cities) and cheap demo passwords: the
    # banner comes seconds after the start instead of a minute.
    env.update(PLACES_COUNTRIES="LU", BCRYPT_ROUNDS="4")
    env.update(extra)
    return env


class Run:
    """`make run` (or `python -m devserver`) in a session of its own, as a terminal runs
    it; its output is read as it comes."""

    def __init__(self, env, argv=None):
        self.env = env
        self.proc = subprocess.Popen(argv or [*MAKE, "run"], cwd=ROOT, env=env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     start_new_session=True)
        self.out, self.err = [], []
        self.readers = [threading.Thread(target=self._read, args=(s, lines), daemon=True)
                        for s, lines in ((self.proc.stdout, self.out),
                                         (self.proc.stderr, self.err))]
        for reader in self.readers:
            reader.start()

    @staticmethod
    def _read(stream, lines):
        for line in stream:
            lines.append(line)

    @property
    def stdout(self):
        return "".join(self.out)

    @property
    def stderr(self):
        return "".join(self.err)

    def wait_for(self, text, timeout=120):
        deadline = time.monotonic() + timeout
        while text not in self.stdout:
            assert self.proc.poll() is None, f"exited: {self.stdout}\n{self.stderr}"
            assert time.monotonic() < deadline, f"no {text!r} in: {self.stdout}"
            time.sleep(0.05)

    def ctrl_c(self):
        os.killpg(self.proc.pid, signal.SIGINT)

    def finish(self, timeout=60):
        try:
            code = self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
        for reader in self.readers:
            reader.join(5)
        return code

    def ports(self):
        return [int(self.env[name]) for name in PORT_VARIABLES]


def run_to_end(env, argv=None, timeout=60):
    run = Run(env, argv)
    return run, run.finish(timeout)


def assert_no_traceback(run):
    assert "Traceback" not in run.stdout + run.stderr, run.stdout + run.stderr


def wait_ports_closed(ports, timeout=20):
    deadline = time.monotonic() + timeout
    while any(port_open(port) for port in ports):
        assert time.monotonic() < deadline, "a child still listens after the stop"
        time.sleep(0.1)


@pytest.fixture
def listening():
    """Listen on a port, as another program would."""
    sockets = []

    def listen(port):
        sock = socket.socket()
        sock.bind(("127.0.0.1", port))
        sock.listen()
        sockets.append(sock)

    yield listen
    for sock in sockets:
        sock.close()


PORTS_IN_USE = [("AUTH_PORT", "auth_service"), ("GATEWAY_PORT", "gateway"),
                ("DB_PORT", "SecantusDB")]


def test_a_port_in_use_is_named_before_anything_starts(tmp_path, listening):
    """Every port taken is named, each with its variable (one run: all are checked
    before anything starts)."""
    env = run_env(tmp_path)
    for variable, _ in PORTS_IN_USE:
        listening(int(env[variable]))
    run, code = run_to_end(env)
    assert code != 0
    assert_no_traceback(run)
    for variable, who in PORTS_IN_USE:
        assert f"port {env[variable]} " in run.stderr and who in run.stderr
        assert f"set {variable}=" in run.stderr and "stop the other process" in run.stderr
    assert "starting SecantusDB" not in run.stdout  # checked before anything started
    assert not (tmp_path / "db").exists()


def test_make_run_twice_the_banner_and_a_quiet_ctrl_c(tmp_path):
    env = run_env(tmp_path)
    first = Run(env)
    try:
        first.wait_for(BANNER_END)
        second, code = run_to_end(env)
        assert code != 0
        assert_no_traceback(second)
        assert "already in use" in second.stderr and "ready" not in second.stdout
        for variable in PORT_VARIABLES:
            assert f"set {variable}=" in second.stderr
        banner = first.stdout
        gateway, auth, realtime = (f"http://127.0.0.1:{env[name]}" for name in
                                   ("GATEWAY_PORT", "AUTH_PORT", "REALTIME_PORT"))
        urls = [f"{gateway}  <- point your frontend here", f"{gateway}/console/",
                f"{realtime}/", f"{gateway}/auth-service/docs",
                f"{gateway}/realtime-service/docs", f"{auth}/docs", f"{realtime}/docs"]
        for url in urls:
            assert url in banner
        assert banner.index("point your frontend here") < banner.index("/console/")
        assert "demo.rider@example.com" in banner and f"{auth}  ready" in banner
        assert requests.get(f"{gateway}/console/", timeout=5).status_code == 200
    finally:
        first.ctrl_c()
        first.finish()
    # Ctrl-C after the banner: devserver's quiet stop (it then exits with 0).
    assert_no_traceback(first)
    assert "stopping (Ctrl-C)" in first.stdout
    wait_ports_closed(first.ports())


def test_maps_answer_the_moment_the_banner_appears(tmp_path):
    """On an empty database the gazetteer is seeded in the background: a suggestion
    asked through the gateway as soon as the banner is out already finds the city, and
    still does once the seed is done."""
    env = run_env(tmp_path, PLACES_COUNTRIES="IN")  # Bengaluru's country
    run = Run(env)
    try:
        run.wait_for(BANNER_END)
        gateway = f"http://127.0.0.1:{env['GATEWAY_PORT']}"
        registered = requests.post(f"{gateway}/users/register", json=user_body(), timeout=10)
        assert registered.status_code == 201, registered.text
        headers = {"Authorization": f"Bearer {registered.json()['token']}"}

        def suggestions():
            answer = requests.get(f"{gateway}/maps/get-suggestions", params={"input": "Beng"},
                                  headers=headers, timeout=10)
            assert answer.status_code == 200, answer.text
            return [place["label"] for place in answer.json()]

        assert "Bengaluru, India" in suggestions()
        run.wait_for("places: added", timeout=180)
        assert "Bengaluru, India" in suggestions()
    finally:
        run.ctrl_c()
        run.finish()
    assert_no_traceback(run)


@pytest.mark.parametrize("moment", [None, "starting SecantusDB", "auth_service listening",
                                    "gateway listening"])
def test_ctrl_c_at_any_moment_is_quiet(tmp_path, moment):
    """SIGINT to the whole process group, as a terminal's Ctrl-C: right after the
    start, while the children start and wait for readiness (after the banner: the
    test of `make run` twice above)."""
    env = run_env(tmp_path)
    run = Run(env, [sys.executable, "-m", "devserver"])
    if moment is None:
        time.sleep(0.3)
    else:
        run.wait_for(moment)
    run.ctrl_c()
    code = run.finish()
    assert code in (0, 130), run.stderr
    assert_no_traceback(run)
    wait_ports_closed(run.ports())


def test_an_unreachable_database_is_named_within_the_timeout(tmp_path):
    port = free_port()
    uri = f"mongodb://ridewire:s3cret-pass@127.0.0.1:{port}/ridewire?directConnection=true"
    env = run_env(tmp_path, MONGO_URI=uri, MONGO_TIMEOUT_MS=str(TIMEOUT_MS))
    started = time.monotonic()
    run, code = run_to_end(env)
    elapsed = time.monotonic() - started
    assert code != 0
    assert_no_traceback(run)
    assert f"cannot reach MongoDB at mongodb://ridewire:***@127.0.0.1:{port}/ridewire" in (
        run.stderr)
    assert "is it running?" in run.stderr and "s3cret-pass" not in run.stdout + run.stderr
    assert elapsed < TIMEOUT_MS / 1000 + MARGIN_S + 2.0  # + make's and Python's start
    assert not any(port_open(int(env[name])) for name in ("AUTH_PORT", "GATEWAY_PORT"))

MAKE_LINE = re.compile(r"^make(\[\d+\])?: ")


@pytest.mark.parametrize("uri", ["not-a-uri", "mongodb://127.0.0.1:1"])
def test_an_invalid_mongo_uri_is_one_line(tmp_path, uri):
    run, code = run_to_end(run_env(tmp_path, MONGO_URI=uri))
    assert code != 0
    assert_no_traceback(run)
    # make's own line is "make: ***" or, under another make (CI's `make test`),
    # "make[1]: ***".
    ours = [line for line in run.stderr.splitlines() if not MAKE_LINE.match(line)]
    assert len(ours) == 1 and f"MONGO_URI={uri}" in ours[0]


@pytest.mark.parametrize("name, error", [("dist", "No such file or directory"),
                                         ("file.txt", "Not a directory")])
def test_a_frontend_dir_that_cannot_be_served_is_one_line(tmp_path, name, error):
    (tmp_path / "file.txt").write_text("not a folder")
    folder = tmp_path / name
    run, code = run_to_end(run_env(tmp_path, FRONTEND_DIR=str(folder)),
                           [sys.executable, "-m", "devserver"])
    assert code == 1 and "starting SecantusDB" not in run.stdout
    assert run.stderr.splitlines() == [f"make run: FRONTEND_DIR={folder}: {error}"], run.stderr


def test_a_service_that_exits_at_start_is_named_with_its_last_lines(tmp_path):
    """APP_ENV=production with the default secret: the auth service refuses to start."""
    env = run_env(tmp_path, APP_ENV="production", JWT_SECRET_KEY="change-me")
    run, code = run_to_end(env, [sys.executable, "-m", "devserver"])
    assert code == 1
    assert "auth_service exited with code 1; its last lines:" in run.stderr
    assert "JWT_SECRET_KEY must be set" in run.stderr.split("its last lines:", 1)[1]
    wait_ports_closed(run.ports())


def children_of(pid):
    """{pid: command line} of the processes whose parent is `pid`."""
    found = {}
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except (OSError, ValueError, IndexError):
            continue
    return found


def test_a_service_that_exits_later_is_named_and_the_others_stop(tmp_path):
    env = run_env(tmp_path)
    run = Run(env, [sys.executable, "-m", "devserver"])
    try:
        run.wait_for(BANNER_END)
        realtime = [pid for pid, argv in children_of(run.proc.pid).items()
                    if b"-m realtime_service" in argv]
        assert len(realtime) == 1
        os.kill(realtime[0], signal.SIGKILL)
        code = run.finish()
    finally:
        if run.proc.poll() is None:
            run.ctrl_c()
            run.finish()
    assert code == 1
    assert "realtime_service was killed by SIGKILL; its last lines:" in run.stderr
    assert "realtime_service listening on" in run.stderr.split("its last lines:", 1)[1]
    assert "stopping the others" in run.stderr
    wait_ports_closed(run.ports())


def test_make_reset_deletes_the_data_and_says_so(tmp_path):
    data = tmp_path / "db"
    (data / "sub").mkdir(parents=True)
    (data / "sub" / "file.wt").write_text("x")
    env = run_env(tmp_path)
    result = subprocess.run([*MAKE, "reset"], cwd=ROOT, env=env, capture_output=True,
                            text=True, check=False, stdin=subprocess.DEVNULL, timeout=30)
    assert result.returncode == 0 and not data.exists()
    assert f"removed {data}" in result.stdout
    again = subprocess.run([*MAKE, "reset"], cwd=ROOT, env=env, capture_output=True,
                           text=True, check=False, timeout=30)
    assert again.returncode == 0 and "nothing to remove" in again.stdout
    assert "## reset:" in (ROOT / "Makefile").read_text()


def env_example():
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


def config_with(tmp_path, values, code):
    """Run `code` after `from shared.config import Config` with exactly `values` for the
    variables of .env.example (in tmp_path: no .env of the repository)."""
    env = {key: value for key, value in os.environ.items() if key not in values}
    env.update(values, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", f"from shared.config import Config\n{code}"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
                          timeout=30)


def test_env_example_allows_the_console_and_the_gateway(tmp_path):
    values = env_example()
    result = config_with(tmp_path, values, "import json; print(json.dumps(Config.CORS_ORIGINS))")
    assert result.returncode == 0, result.stderr
    origins = json.loads(result.stdout)
    for port in (values.get("GATEWAY_PORT", "5000"), values.get("REALTIME_PORT", "5002")):
        for host in ("localhost", "127.0.0.1"):
            assert f"http://{host}:{port}" in origins


def test_env_example_secret_is_refused_in_production(tmp_path):
    values = {**env_example(), "APP_ENV": "production"}
    refused = config_with(tmp_path, values, "Config.check()")
    assert refused.returncode != 0 and "JWT_SECRET_KEY must be set" in refused.stderr
    assert config_with(tmp_path, env_example(), "Config.check()").returncode == 0


@pytest.fixture(scope="module")
def services_without_database(tmp_path_factory):
    """Both services, their MONGO_URI pointing at a port where nothing listens."""
    tmp = tmp_path_factory.mktemp("nodb")
    uri = f"mongodb://127.0.0.1:{free_port()}/ridewire?directConnection=true"
    started = []
    for module, variable in (("auth_service", "AUTH_PORT"),
                             ("realtime_service", "REALTIME_PORT")):
        port = free_port()
        env = {"MONGO_URI": uri, variable: str(port), "MONGO_TIMEOUT_MS": str(TIMEOUT_MS),
               "LOG_LEVEL": "WARNING", "RATELIMIT_ENABLED": "false"}
        started.append(Service(module, port, env, log_path=tmp / f"{module}.log").start(60))
    yield {service.name: service.url for service in started}
    for service in started:
        service.stop()


def timed(method, url, **kwargs):
    started = time.monotonic()
    response = requests.request(method, url, timeout=30, **kwargs)
    return response.status_code, time.monotonic() - started


def test_api_answers_503_within_the_timeout_when_the_database_is_down(
        services_without_database):
    url = services_without_database["auth_service"]
    for _ in range(3):
        status, seconds = timed("POST", f"{url}/users/login",
                                json={"email": "a@example.com", "password": "secret123"})
        assert status == 503 and seconds < TIMEOUT_MS / 1000 + MARGIN_S


def test_liveness_never_waits_for_the_database(services_without_database):
    """/healthz in milliseconds, even while a request waits for the database."""
    for url in services_without_database.values():
        waiting = threading.Thread(target=timed, args=("GET", f"{url}/readyz"))
        waiting.start()
        for _ in range(5):
            status, seconds = timed("GET", f"{url}/healthz")
            assert status == 200 and seconds < 0.3
        waiting.join()

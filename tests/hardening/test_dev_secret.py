"""`make run` without JWT_SECRET_KEY: the services sign with a random
secret kept next to the embedded database's data (DATA_DIR's parent, `jwt-secret`,
mode 0600), the same in both services and across restarts, never logged; a token
forged with the public development default opens nothing. Production still refuses to
start without a secret of its own, whatever the data directory holds."""
import os
import stat
import subprocess
import sys

import jwt
import requests
from pymongo import MongoClient

from devserver.processes import Service
from shared.config import DEFAULT_JWT_SECRET
from tests.harness import free_port

from ..factories import make_captain
from ..system.test_startup import BANNER_END, ROOT, Run, assert_no_traceback, run_env, run_to_end
from .forge import claims


def secret_of(data_dir):
    path = data_dir.parent / "jwt-secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    return path.read_text().strip()


def profile(run, token):
    return requests.get(f"http://127.0.0.1:{run.env['AUTH_PORT']}/captains/profile",
                        headers={"Authorization": f"Bearer {token}"}, timeout=10)


def rides(run, token):
    return requests.get(f"http://127.0.0.1:{run.env['REALTIME_PORT']}/rides",
                        headers={"Authorization": f"Bearer {token}"}, timeout=10)


def start(env):
    run = Run(env, [sys.executable, "-m", "devserver"])
    run.wait_for(BANNER_END)
    return run


def stop(run):
    run.ctrl_c()
    assert run.finish() == 0
    assert_no_traceback(run)


def captain_in(run):
    client = MongoClient(f"mongodb://127.0.0.1:{run.env['DB_PORT']}/ridewire"
                         "?directConnection=true&retryWrites=false", tz_aware=True)
    try:
        return make_captain(client.get_default_database())
    finally:
        client.close()


def test_make_run_signs_with_a_random_secret_kept_per_data_directory(tmp_path):
    env = run_env(tmp_path / "one")
    env.pop("JWT_SECRET_KEY", None)
    env.pop("APP_ENV", None)
    first = start(env)
    try:
        captain = captain_in(first)
        forged = jwt.encode(claims(captain, role="captain"), DEFAULT_JWT_SECRET,
                            algorithm="HS256")
        assert profile(first, forged).status_code == 401
        secret = secret_of(tmp_path / "one" / "db")
        assert len(secret) >= 32 and secret != DEFAULT_JWT_SECRET
        genuine = jwt.encode(claims(captain, role="captain"), secret, algorithm="HS256")
        assert profile(first, genuine).status_code == 200
        assert rides(first, genuine).status_code == 200  # both services share it
    finally:
        stop(first)
    again = start(env)  # a restart keeps the secret: the tokens issued stay valid
    try:
        assert profile(again, genuine).status_code == 200
    finally:
        stop(again)
    assert secret not in first.stdout + first.stderr + again.stdout + again.stderr
    other = tmp_path / "two"
    probe = subprocess.run(
        [sys.executable, "-c", "from shared.config import Config; Config.JWT_SECRET_KEY"],
        cwd=ROOT, env={**env, "DATA_DIR": str(other / "db")}, capture_output=True, text=True,
        check=False, timeout=30)
    assert probe.returncode == 0, probe.stderr
    assert secret_of(other / "db") != secret  # another data directory, another secret


def test_production_refuses_to_start_without_its_own_secret(tmp_path, mongo_uri):
    data = tmp_path / "data" / "db"
    data.parent.mkdir(parents=True)
    planted = data.parent / "jwt-secret"
    planted.write_text("k" * 48)
    os.chmod(planted, 0o600)
    port = free_port()
    env = {"APP_ENV": "production", "AUTH_PORT": str(port), "MONGO_URI": mongo_uri,
           "DATA_DIR": str(data), "JWT_SECRET_KEY": ""}
    service = Service("auth_service", port, env, log_path=tmp_path / "auth.log")
    try:
        service.start(30)
    except RuntimeError:
        pass
    else:
        service.stop()
        raise AssertionError("production started with the development secret file")
    assert "JWT_SECRET_KEY must be set" in (tmp_path / "auth.log").read_text()
    assert planted.read_text() == "k" * 48


def test_make_run_refuses_a_secret_file_others_can_read_in_one_line(tmp_path):
    """A `jwt-secret` someone else could read (mode 0644) is no secret: `make run` says
    so in one line before anything starts, and never prints it."""
    env = run_env(tmp_path)
    env.pop("JWT_SECRET_KEY", None)
    env.pop("APP_ENV", None)
    planted = tmp_path / "jwt-secret"
    planted.write_text("k" * 48)
    os.chmod(planted, 0o644)
    run, code = run_to_end(env, [sys.executable, "-m", "devserver"])
    assert code == 1 and "starting SecantusDB" not in run.stdout
    assert run.stderr.splitlines() == [
        f"make run: no JWT secret: {planted} must be a file of this user with mode 0600 "
        "(or set JWT_SECRET_KEY)"], run.stderr
    assert "k" * 48 not in run.stdout + run.stderr

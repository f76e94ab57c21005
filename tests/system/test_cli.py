"""The `flask` entry point as a real subprocess (the commands themselves run in process:
tests/app/test_cli.py), and index creation when the database comes up after the
service."""
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

from devserver.processes import EmbeddedMongo
from tests.harness import free_port

from ..conftest import make_config, service_env

FLASK = str(Path(sys.executable).with_name("flask"))


def flask(app, *args, uri, **env):
    environment = {**os.environ, **service_env(uri, **env)}
    return subprocess.run([FLASK, "--app", app, *args], env=environment, capture_output=True,
                          text=True, timeout=120, check=False)


def dead_uri():
    port = free_port()  # nothing listens there
    return f"mongodb://demo:s3cret@127.0.0.1:{port}/x?directConnection=true&retryWrites=false"


def test_an_unreachable_database_is_one_clear_line_and_a_failure():
    """The `flask` entry point as a user runs it: exit status, stderr, no traceback."""
    uri = dead_uri()
    started = time.monotonic()
    result = flask("auth_service", "create-indexes", uri=uri, MONGO_TIMEOUT_MS=300)
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "Traceback" not in output and "s3cret" not in output
    masked = uri.replace("s3cret", "***")
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: cannot reach MongoDB at {masked} (ServerSelectionTimeoutError)")
    # and the app's start-up said it once, naming the same masked URI
    assert output.count(f"cannot reach MongoDB at {masked} (ServerSelectionTimeoutError); "
                        "indexes will be created when it answers") == 1
    assert time.monotonic() - started < 30


def test_indexes_wait_for_the_database_and_readiness_creates_them(tmp_path, caplog):
    """Started with the database down: one warning, 503; once it answers, the readiness
    check creates the indexes and says ready."""
    from auth_service.app import MODELS
    from shared.http import make_app

    server = EmbeddedMongo(free_port(), storage=tmp_path / "data")
    with caplog.at_level(logging.WARNING, logger="shared.db"):
        app = make_app("late", make_config(server.uri("late"), MONGO_TIMEOUT_MS=300), MODELS)
    warnings = [r.getMessage() for r in caplog.records if r.name == "shared.db"]
    assert warnings == [f"cannot reach MongoDB at {server.uri('late')} "
                        "(ServerSelectionTimeoutError); indexes will be created when it answers"]
    client = app.test_client()
    assert client.get("/readyz").status_code == 503
    server.start()
    try:
        deadline = time.monotonic() + 15
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "readyz did not recover"
            time.sleep(0.2)
        with app.app_context():
            from shared.extensions import mongo

            assert "email_unique" in mongo.db.users.index_information()
            assert "jti_1" in mongo.db.blacklisted_tokens.index_information()
    finally:
        server.stop()

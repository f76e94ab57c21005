"""The `flask --app realtime_service` entry point as a real subprocess (the gazetteer's
commands themselves run in process: tests/app/test_places.py)."""
import os
import subprocess
import sys
from pathlib import Path

from tests.harness import free_port

from ..conftest import service_env

FLASK = str(Path(sys.executable).with_name("flask"))


def flask(*args, uri, **env):
    environment = {**os.environ, **service_env(uri, **env)}
    return subprocess.run([FLASK, "--app", "realtime_service", *args], env=environment,
                          capture_output=True, text=True, timeout=120, check=False)


def test_seed_places_with_the_database_down_is_one_line():
    port = free_port()
    uri = f"mongodb://127.0.0.1:{port}/x?directConnection=true&retryWrites=false"
    result = flask("seed-places", "--countries", "LU", uri=uri, MONGO_TIMEOUT_MS="300")
    assert result.returncode == 1
    assert "cannot reach MongoDB" in result.stderr and "Traceback" not in result.stderr

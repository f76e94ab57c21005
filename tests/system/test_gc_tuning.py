"""A gunicorn worker, once it has loaded the app, freezes the app's objects out of the
collector and collects the young generation less often (shared.serve.tune_gc, run by
the production post_worker_init hook), checked in every real worker of each service."""
import json
import runpy

import pytest

from devserver.processes import stop_all
from shared.serve import GC_YOUNG_THRESHOLD
from tests.gateway_support import gunicorn
from tests.harness import DEPLOY

pytestmark = pytest.mark.timeout(120)

# The production config, with its post_worker_init hook wrapped to record the GC state:
# one file per worker, written under a temporary name and renamed, so that a reader
# never sees another worker's write in progress.
WRAPPED_CONFIG = """
exec(open({config!r}).read())
_production_hook = post_worker_init


def post_worker_init(worker):
    _production_hook(worker)
    import gc, json, os
    path = os.path.join({out!r}, "gc-%d.json" % os.getpid())
    with open(path + ".tmp", "w") as handle:
        json.dump([gc.get_freeze_count(), gc.get_threshold()[0]], handle)
    os.replace(path + ".tmp", path)
"""


def configured_workers(config, env, monkeypatch):
    """The `workers` setting the config computes in the service's environment."""
    with monkeypatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        return runpy.run_path(str(config))["workers"]


def worker_reports(directory):
    """Each reporting worker's [freeze count, young threshold], by its pid."""
    return {path.stem: json.loads(path.read_text()) for path in directory.glob("gc-*.json")}


@pytest.mark.parametrize("module", ["auth_service", "realtime_service"])
def test_a_worker_freezes_the_app_and_raises_the_young_threshold(module, mongo_uri, tmp_path,
                                                                  monkeypatch):
    out = tmp_path / "reports"
    out.mkdir()
    config = tmp_path / "gunicorn_wrapped.py"
    production = DEPLOY / f"gunicorn_{module.removesuffix('_service')}.py"
    config.write_text(WRAPPED_CONFIG.format(config=str(production), out=str(out)))
    service = gunicorn(module, mongo_uri, tmp_path)
    service.argv = [*service.argv[:-1], str(config)]
    workers = configured_workers(production, service.env, monkeypatch)
    service.start(60)
    try:
        service.wait_until(lambda: len(worker_reports(out)) >= workers, timeout=60)
        reports = worker_reports(out)
    finally:
        stop_all([service])
    assert len(reports) == workers
    for frozen, threshold in reports.values():
        assert frozen > 10_000  # the loaded app: modules, schemas, routes
        assert threshold == GC_YOUNG_THRESHOLD != 700

"""A gunicorn worker, once it has loaded the app, freezes the app's objects out of the
collector and collects the young generation less often (shared.serve.tune_gc, run by
the production post_worker_init hook), checked in a real worker of each service."""
import json

import pytest

from devserver.serve import DEPLOY
from shared.serve import GC_YOUNG_THRESHOLD
from tests.gateway_support import gunicorn, start_all, stop_all

pytestmark = pytest.mark.timeout(120)

# The production config, with its post_worker_init hook wrapped to record the GC state.
WRAPPED_CONFIG = """
exec(open({config!r}).read())
_production_hook = post_worker_init


def post_worker_init(worker):
    _production_hook(worker)
    import gc, json
    with open({out!r}, "w") as handle:
        json.dump([gc.get_freeze_count(), gc.get_threshold()[0]], handle)
"""


@pytest.mark.parametrize("module", ["auth_service", "realtime_service"])
def test_a_worker_freezes_the_app_and_raises_the_young_threshold(module, mongo_uri, tmp_path):
    out = tmp_path / "gc.json"
    config = tmp_path / "gunicorn_wrapped.py"
    production = DEPLOY / f"gunicorn_{module.removesuffix('_service')}.py"
    config.write_text(WRAPPED_CONFIG.format(config=str(production), out=str(out)))
    service = gunicorn(module, mongo_uri, tmp_path)
    service.argv = [*service.argv[:-1], str(config)]
    start_all([service])
    try:
        frozen, threshold = json.loads(out.read_text())
    finally:
        stop_all([service])
    assert frozen > 10_000  # the loaded app: modules, schemas, routes
    assert threshold == GC_YOUNG_THRESHOLD != 700

"""A gunicorn worker freezes the loaded app out of the collector and collects the young
generation less often (shared.serve.tune_gc, run by the post_worker_init hook)."""
import subprocess
import sys

from shared.serve import GC_YOUNG_THRESHOLD

PROBE = """
import gc
from shared.serve import tune_gc
import auth_service.app
before = gc.get_freeze_count()
tune_gc()
print(before, gc.get_freeze_count(), gc.get_threshold()[0])
"""


def test_tune_gc_freezes_the_app_and_raises_the_young_threshold():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         check=True).stdout.split()
    before, frozen, threshold = map(int, out)
    assert before == 0 and frozen > 10_000
    assert threshold == GC_YOUNG_THRESHOLD != 700

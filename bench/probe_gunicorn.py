"""gunicorn settings of scenario 12: the realtime service's own (deploy/gunicorn_realtime.py)
plus a probe in the worker, which the scenario drives through files in BENCH_PROBE_DIR.

The probe is one greenlet that looks for `request.json` every 0.2 s and answers in
`answer-<n>.json` with what only the worker can see: after a full collection, its
VmRSS, the greenlets alive (grouped by what they run), the tracked objects per type,
and with BENCH_TRACEMALLOC set the allocation sites that grew since the previous
request. Bench only: production never loads it.
"""
import gc
import json
import os
import runpy
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path

_DEPLOY = Path(__file__).resolve().parent.parent / "deploy" / "gunicorn_realtime.py"
globals().update({name: value for name, value in runpy.run_path(str(_DEPLOY)).items()
                  if not name.startswith("_")})
_production_post_worker_init = post_worker_init  # noqa: F821  (from the file above)
POLL_SECONDS = 0.2
# A measurement holds the worker for seconds (a tracemalloc comparison, for a minute on a
# loaded machine): gunicorn would take the silent worker for stuck and kill it.
timeout = 0
# Frames in greenlet stacks that say nothing about who runs them.
_PLUMBING = ("/gevent/", "/greenlet/", "/threading.py", "/selectors.py")


def post_worker_init(worker):
    """The production hook, then the probe."""
    _production_post_worker_init(worker)
    import gevent

    if os.environ.get("BENCH_TRACEMALLOC"):
        tracemalloc.start(int(os.environ["BENCH_TRACEMALLOC"]))
    gevent.spawn(_serve_probe, Path(os.environ["BENCH_PROBE_DIR"]))


def _serve_probe(directory):
    import gevent

    previous = None
    while True:
        request = directory / "request.json"
        if not request.exists():
            gevent.sleep(POLL_SECONDS)
            continue
        number = json.loads(request.read_text())["n"]
        request.unlink()
        answer, previous = measure(previous)
        out = directory / f"answer-{number}.json"
        out.with_suffix(".tmp").write_text(json.dumps(answer))
        out.with_suffix(".tmp").rename(out)


def measure(previous_snapshot):
    """(what the worker holds now, its tracemalloc snapshot or None)."""
    began = time.monotonic()
    gc.collect()
    objects = gc.get_objects()
    greenlets = Counter(_greenlet_kind(o) for o in objects if _is_greenlet(o))
    types = Counter(type(o).__module__ + "." + type(o).__qualname__ for o in objects)
    answer = {"rss_kib": _status_kib("VmRSS"), "rss_anon_kib": _status_kib("RssAnon"),
              "tracked_objects": len(objects), "greenlets": sum(greenlets.values()),
              "greenlet_kinds": dict(greenlets.most_common(15)),
              "types": dict(types.most_common(40))}
    del objects
    snapshot = None
    if tracemalloc.is_tracing():
        snapshot = tracemalloc.take_snapshot()
        answer["traced_kib"] = round(tracemalloc.get_traced_memory()[0] / 1024, 1)
        if previous_snapshot is not None:
            answer["grown"] = _grown(snapshot, previous_snapshot)
    answer["probe_s"] = round(time.monotonic() - began, 2)
    return answer, snapshot


def _grown(snapshot, previous):
    """The 30 allocation sites (file:line of the allocation, and the caller that made it
    in the first frame outside the standard library) that grew most."""
    rows = []
    for stat in snapshot.compare_to(previous, "traceback")[:30]:
        frames = [f"{_short(frame.filename)}:{frame.lineno}" for frame in stat.traceback]
        rows.append({"kib": round(stat.size_diff / 1024, 1), "count": stat.count_diff,
                     "where": frames[-1], "stack": frames[:-1][-3:]})
    return rows


def _short(filename):
    """A path from its package (site-packages or the repository), else its name."""
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1]
    root = str(_DEPLOY.parent.parent) + "/"
    return filename[len(root):] if filename.startswith(root) else Path(filename).name


def _is_greenlet(obj):
    greenlet = sys.modules.get("greenlet")
    return greenlet is not None and isinstance(obj, greenlet.greenlet)


def _greenlet_kind(glet):
    """The outermost frames of a greenlet's stack outside gevent's plumbing, or what
    it will run when it has not started."""
    frame, names = glet.gr_frame, []
    while frame is not None:
        code = frame.f_code
        if not any(part in code.co_filename for part in _PLUMBING):
            names.append(f"{Path(code.co_filename).stem}.{code.co_name}")
        frame = frame.f_back
    if not names:
        run = getattr(glet, "_run", None) or getattr(glet, "run", None)
        return f"(not started or plumbing only) {getattr(run, '__qualname__', type(glet).__name__)}"
    outermost_first = names[::-1]
    return " > ".join(outermost_first[:2] + outermost_first[2:][-1:])


def _status_kib(field):
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith(field + ":"))

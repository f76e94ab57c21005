"""What `make soak` checks and reports (bench/soak.py): memory and latency drift,
the run's timeline, and what is left behind after every client disconnected."""
import time
from collections import Counter

import redis

from bench import common
from bench.loadclient import percentiles

MEMORY_TOLERANCE = 0.10
# Request latency must not drift either: the p99 of the last quarter of the run
# within this factor (plus a small absolute allowance) of the second quarter's.
LATENCY_DRIFT_FACTOR, LATENCY_DRIFT_MS, LATENCY_MIN_SAMPLES = 2.0, 100.0, 200
WARMUP_SHARE = 0.25  # memory is compared from this point of the run on
TIMELINE_BUCKETS = 20  # the run's latencies and CPU in this many slices


def established(port):
    """ESTABLISHED TCP connections to 127.0.0.1:`port` (the server side of sockets)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as handle:
                next(handle)
                for line in handle:
                    fields = line.split()
                    if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                        count += 1
        except OSError:
            continue
    return count


def presence_entries(redis_url):
    with redis.Redis.from_url(redis_url, decode_responses=True) as client:
        keys = [k for k in client.scan_iter("ridewire:presence:*") if not k.endswith(":procs")]
        return sum(client.scard(key) for key in keys)


def sample_processes(pids, samples, stop, every):
    """Every `every` seconds: (monotonic time, {name: proc_stats}) of each process."""
    while not stop.wait(every):
        samples.append((time.monotonic(), {name: common.proc_stats(pid)
                                           for name, pid in pids.items()}))


def timeline(latencies, samples, started, seconds):
    """The run in TIMELINE_BUCKETS slices: requests sent in each (count, latency
    percentiles, failures) and the CPU share of each process over it, so that a stall
    shows when it happened and who was busy."""
    width = seconds / TIMELINE_BUCKETS
    slices = []
    for n in range(TIMELINE_BUCKETS):
        start, end = n * width, (n + 1) * width
        rows = [row for row in latencies if start <= row[0] < end]
        failed = Counter(row[3] for row in rows if not row[3].isdigit())
        slices.append({"from_s": round(start), "requests": len(rows),
                       "latency_ms": percentiles([row[1] for row in rows]),
                       "failed": dict(failed), "cpu_pct": _cpu_share(samples, started, start, end)})
    by_kind = {}
    for kind in sorted({row[2] for row in latencies}):
        by_kind[kind] = percentiles([row[1] for row in latencies if row[2] == kind])
    return {"slices": slices, "by_request": by_kind}


def _cpu_share(samples, started, start, end):
    """Per process, % of one core used between `start` and `end` seconds into the run."""
    inside = [(at - started, stats) for at, stats in samples if start <= at - started <= end]
    if len(inside) < 2:
        return None
    (t0, first), (t1, last) = inside[0], inside[-1]
    return {name: round(100 * (last[name]["cpu_s"] - first[name]["cpu_s"]) / (t1 - t0))
            for name in first if name in last and t1 > t0}


def latency_drift(latencies, seconds):
    """p99 of the requests sent in the second quarter of the run (after the warm-up)
    against the last quarter: a query that slows down as data piles up shows here long
    before requests time out."""
    def p99(start, end):
        rows = [row[1] for row in latencies if start * seconds <= row[0] < end * seconds]
        return percentiles(rows, points=(99,)) if len(rows) >= LATENCY_MIN_SAMPLES else None

    warm, end = p99(0.25, 0.5), p99(0.75, 1.0)
    if warm is None or end is None:
        return {"flat": True, "note": "run too short to compare"}
    return {"warm_p99_ms": warm["p99"], "end_p99_ms": end["p99"],
            "flat": end["p99"] <= warm["p99"] * LATENCY_DRIFT_FACTOR + LATENCY_DRIFT_MS}


def memory_drift(samples, started, seconds):
    """RSS after the warm-up against the end of the run."""
    after_warmup = [mb for at, mb in samples if at - started >= seconds * WARMUP_SHARE]
    if len(after_warmup) < 2:
        return {"samples": len(samples), "flat": True, "note": "run too short to compare"}
    base, end = after_warmup[0], after_warmup[-1]
    return {"samples": len(samples), "warm_mb": base, "end_mb": end,
            "max_mb": max(after_warmup), "growth_pct": round(100 * (end - base) / base, 1),
            "flat": end <= base * (1 + MEMORY_TOLERANCE)}


def leaks_after(stack, service, accounts):
    deadline = time.monotonic() + 20  # a presence heartbeat, and the server closing sockets
    while True:
        leaks = {"sockets": established(service.port),
                 "presence_entries": presence_entries(stack.redis_url),
                 "socket_ids": stack.db.users.count_documents({"socketId": {"$ne": None}})
                 + stack.db.captains.count_documents({"socketId": {"$ne": None}})}
        if not any(leaks.values()) or time.monotonic() > deadline:
            return leaks
        time.sleep(0.5)


def log_errors(stack, service):
    path = stack.tmp / f"realtime_service-{service.port}.log"
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return []
    return [line[:300] for line in lines if '"level": "ERROR"' in line][:20]

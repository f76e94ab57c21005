"""Scenario 14: churn at scale, what a dropped-and-recovered socket costs the realtime
worker against the number of sockets it holds.

One realtime process (production config) holds H idle authenticated websockets of
captains (no presence broadcasts: the cost measured is the socket's), H growing in
steps (1,000, 5,000, 10,000; the lean load client in two processes). At each H, after
the worker is quiet, its idle CPU over one ping interval (25 s), then a steady churn
step as long: RATE sockets a second (20), open loop, round robin over the held ones,
lose their TCP connection (`transport.abort()`, no close frame, as a mobile network
drop) and come back at once with their `pid` and offset (connection state recovery);
then a quiet gap. Per step: the worker's CPU from the first drop until every socket was back, net
of its idle CPU, per churn cycle (ms); the cycles recovered (same pid and socket id),
new sessions and failures; reconnect times (drop to CONNECT answer) p50/p95/p99; the
load average at the step's start and end.

    make bench SCENARIO=14                            # about 4.5 minutes
    BENCH_CHURN_HELD=1000,8000 BENCH_CHURN_RATE=20 make bench SCENARIO=14

A/B of the server code: BENCH_SERVER_TREE=/path/to/tree serves the realtime process
from that tree (its cwd, PYTHONPATH and gunicorn config), the scenario itself running
from this one; the result records where the worker imported realtime_service from.

    git worktree add /tmp/before <commit>
    BENCH_SERVER_TREE=/tmp/before python -m bench 14 --out /tmp/churn-before
"""
import os
import time

from bench import common
from bench.loadclient import Fleet, percentiles
from bench.served_tree import serve_realtime
from shared.config import Config

# The idle and churn windows last one Engine.IO ping interval each: every held socket
# is pinged once in each, whatever the phase of its pings (10,000 sockets' pings cost
# the worker about 3 CPU seconds; a shorter window holds all, some or none of them).
PING_S = Config.SOCKET_PING_INTERVAL
HOLD_TIMEOUT_S = 1200.0
SIZES = {
    "full": {"held": [1000, 5000, 10000], "rate": 20.0, "step_s": PING_S, "idle_s": PING_S,
             "quiet_s": 5.0, "workers": 2},
    "tiny": {"held": [6, 12], "rate": 4.0, "step_s": 2.5, "idle_s": 1.0, "quiet_s": 0.5,
             "workers": 2},
}


def run(size="full", out_dir=None):
    cfg = configure(size)
    with common.Stack("churn") as stack:
        service, served = serve_realtime(stack, os.environ.get("BENCH_SERVER_TREE"),
                                         PRESENCE_EVENTS="delta")
        pids = {"server": common.worker_pid(service), "db": stack.db_server.proc.pid}
        captains = stack.seed("captain", max(cfg["held"]))
        accounts = [{"id": str(doc["_id"]), "token": token} for doc, token in
                    zip(captains, common.tokens_for(captains, "captain"), strict=True)]
        workers = cfg["workers"]
        specs = [{"port": service.port, "receivers": accounts[w::workers]}
                 for w in range(workers)]
        with Fleet("bench.churn_clients:ChurnWorker", specs) as fleet:
            points = [measure(cfg, fleet, pids, held) for held in cfg["held"]]
            fleet.call("close")
    result = {"size": size, "config": cfg, "served": served, "points": points,
              "table": [summary(point) for point in points]}
    common.write_result("churn", result, out_dir)
    for row in result["table"]:
        print(f"[churn] {row}", flush=True)
    return result


def configure(size):
    """The size's settings, with BENCH_CHURN_HELD (comma-separated), BENCH_CHURN_RATE
    (drops a second) and BENCH_CHURN_STEP_S."""
    cfg = dict(SIZES[size])
    if os.environ.get("BENCH_CHURN_HELD"):
        cfg["held"] = [int(n) for n in os.environ["BENCH_CHURN_HELD"].split(",")]
    if os.environ.get("BENCH_CHURN_RATE"):
        cfg["rate"] = float(os.environ["BENCH_CHURN_RATE"])
    if os.environ.get("BENCH_CHURN_STEP_S"):
        cfg["step_s"] = float(os.environ["BENCH_CHURN_STEP_S"])
    return cfg


def measure(cfg, fleet, pids, held):
    """Grow to `held` sockets, settle, take the idle CPU, churn one step, rest."""
    workers = cfg["workers"]
    point = {"held_target": held, "load_average": {"connect": os.getloadavg()}}
    started = time.monotonic()
    parts = fleet.call("hold", per_worker=[{"count": len(range(w, held, workers))}
                                            for w in range(workers)], timeout=HOLD_TIMEOUT_S)
    point["setup"] = {"held": sum(p["held"] for p in parts),
                      "failures": [p["failures"] for p in parts if p["failures"]],
                      "connect_s": round(time.monotonic() - started, 1),
                      "settle_s": common.wait_idle([pids["server"]], timeout=300)}
    meter = common.CpuMeter(**pids)
    time.sleep(cfg["idle_s"])
    point["idle"] = meter.read()
    point["load_average"]["start"] = os.getloadavg()
    client_cpu = list(fleet.cpu)
    meter.start()
    parts = fleet.call("churn", rate=cfg["rate"] / workers, seconds=cfg["step_s"],
                       timeout=cfg["step_s"] + 300)
    point["step"] = meter.read()
    point["load_average"]["end"] = os.getloadavg()
    point["step"]["client_cpu_s"] = [round(after - before, 2) for before, after
                                     in zip(client_cpu, fleet.cpu, strict=True)]
    point["cycles"] = tally(parts)
    point["cycles"]["skipped"] = sum(p["skipped"] for p in parts)
    point["cycles"]["server_closed"] = sum(p["server_closed"] for p in parts)
    time.sleep(cfg["quiet_s"])
    print(f"[churn] {held}: {summary(point)}", flush=True)
    return point


def tally(parts):
    """Recovered (same pid and socket id), new sessions, failed; reconnect times."""
    outcomes = [o for part in parts for o in part["outcomes"]]
    back = [o for o in outcomes if not o["error"]]
    return {"cycles": len(outcomes), "completed": len(back),
            "recovered": sum(1 for o in back if o["recovered"] and o["same_sid"]),
            "new": sum(1 for o in back if not (o["recovered"] and o["same_sid"])),
            "failed": len(outcomes) - len(back),
            "errors": sorted({o["error"] for o in outcomes if o["error"]}),
            "retried": sum(1 for o in back if o["attempts"] > 1),
            "reconnect_ms": percentiles([o["reconnect_ms"] for o in back]),
            "schedule_s": max(p["schedule_s"] for p in parts),
            "all_back_s": max(p["all_back_s"] for p in parts)}


def summary(point):
    """The point's row: CPU per churn cycle net of idle, outcomes, reconnect times."""
    idle, step, cycles = point["idle"], point["step"], point["cycles"]
    idle_rate = idle["cpu_s"]["server"] / idle["wall_s"]
    net = step["cpu_s"]["server"] - idle_rate * step["wall_s"]
    times = cycles["reconnect_ms"] or {}
    return {"held": point["setup"]["held"], "cycles": cycles["completed"],
            "cpu_ms_per_cycle_net": round(1000 * net / cycles["completed"], 2)
            if cycles["completed"] else None,
            "cpu_ms_per_cycle_gross": round(1000 * step["cpu_s"]["server"]
                                            / cycles["completed"], 2)
            if cycles["completed"] else None,
            "db_cpu_ms_per_cycle": round(1000 * step["cpu_s"]["db"] / cycles["completed"], 2)
            if cycles["completed"] else None,
            "idle_cpu_pct": idle["cpu_pct"]["server"], "step_cpu_pct": step["cpu_pct"]["server"],
            "recovered": cycles["recovered"], "new": cycles["new"], "failed": cycles["failed"],
            "reconnect_p50_ms": times.get("p50"), "reconnect_p95_ms": times.get("p95"),
            "reconnect_p99_ms": times.get("p99"),
            "load_average": [point["load_average"]["start"][0],
                             point["load_average"]["end"][0]]}


if __name__ == "__main__":
    import sys

    run(sys.argv[1] if len(sys.argv) > 1 else "full")

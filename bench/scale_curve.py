"""Scenario 13: the cost of chat against the work held, a curve.

Each variant holds CLIENTS authenticated websockets (the lean client, spread over
load-client processes): PAIRS pairs of users who chat over the `send-message` socket
event (acknowledged, with a `clientMessageId`: the recommended path) in steady-state
steps of `step_s` seconds at rising, open-loop rates, and captains for the rest,
connected and idle (they answer the server's pings and nothing else). The idle clients
are captains because a captain's socket carries no presence: the curve measures what
an idle socket costs a process (its pings, its memory, the rooms a push looks up), not
a user-presence storm that grows with the square of the users online.

Variants: 1,000, 5,000 and 10,000 clients on one realtime process in memory; then
1,000 clients with Redis on one and on two realtime processes. With two, the clients
connect to the processes alternately, as the sticky gateway pins a websocket-only
client to one process (the gateway's own hop is not measured, as in scenario 6), and
every pair has its two users on different processes, so every message crosses Redis.

Per variant: the connect time, the worker's RSS before and after connecting (KiB per
socket), its idle CPU while the sockets are held, and per step the delivered rate,
push latency, losses and CPU per message (each server worker, the database, Redis).
Saturation is the highest rate a whole step held (`bench.versus.held`: every send
acknowledged, nothing lost, >= 95 % of the offered rate, p99 under 1 s).

    make bench SCENARIO=13                                  # about 10 minutes
    BENCH_SCALE_VARIANTS=10000-memory make bench SCENARIO=13  # one point
"""
import os
import time

from bench import common, push_latency
from bench.loadclient import Fleet
from bench.versus import held

SIZES = {
    "full": {"clients": [1000, 5000, 10000], "redis_clients": 1000, "pairs": 200,
             "workers": 2, "step_s": 15.0, "idle_s": 10.0,
             "rates": [50, 100, 200, 300, 400, 500, 600]},
    "tiny": {"clients": [12, 16], "redis_clients": 12, "pairs": 3, "workers": 2,
             "step_s": 1.0, "idle_s": 0.5, "rates": [10]},
}
CONNECT_TIMEOUT_S = 1200.0


def variants(cfg):
    """`(name, clients, processes, redis)` of each point of the curve."""
    return ([(f"{n}-memory", n, 1, False) for n in cfg["clients"]]
            + [(f"{cfg['redis_clients']}-redis-{p}p", cfg["redis_clients"], p, True)
               for p in (1, 2)])


def run(size="full", out_dir=None, only=None):
    """Every variant (or those named in `only`, or BENCH_SCALE_VARIANTS, comma-separated)."""
    cfg = SIZES[size]
    wanted = only or [v for v in os.environ.get("BENCH_SCALE_VARIANTS", "").split(",") if v]
    points = [measure(cfg, *variant) for variant in variants(cfg)
              if not wanted or variant[0] in wanted]
    result = {"size": size, "config": cfg, "presence_events": "delta", "points": points,
              "curve": [summary(point) for point in points]}
    common.write_result("scale_curve", result, out_dir)
    for row in result["curve"]:
        print(f"[scale_curve] {row}", flush=True)
    return result


def measure(cfg, name, clients, processes, redis_server):
    """One point: connect, hold idle, then the chat ramp."""
    print(f"[scale_curve] {name}: load average {os.getloadavg()}", flush=True)
    load_before = os.getloadavg()
    with common.Stack(f"scale_curve-{name}", redis_server=redis_server) as stack:
        services = [stack.serve("realtime_service", PRESENCE_EVENTS="delta")
                    for _ in range(processes)]
        specs = push_latency.plan(_accounts(stack, cfg["pairs"], clients), cfg["pairs"],
                                  cfg["workers"], [s.port for s in services])
        for spec in specs:
            spec["request"] = push_latency.RIDEWIRE_SOCKET_SEND
        workers = {f"server{i}": common.worker_pid(s) for i, s in enumerate(services)}
        pids = dict(workers, db=stack.db_server.proc.pid)
        if redis_server:
            pids["redis"] = stack.servers.redis_proc.proc.pid
        point = {"name": name, "clients": clients, "processes": processes,
                 "redis": redis_server, "rss_mb_empty": _rss(workers)}
        point.update(_ramp(cfg, name, specs, workers, pids))
    point["load_average"] = {"before": load_before, "after": os.getloadavg()}
    return point


def _accounts(stack, pairs, clients):
    """The chatting users first (plan() pairs them in order), then idle captains."""
    users = stack.seed("user", 2 * pairs)
    captains = stack.seed("captain", max(0, clients - 2 * pairs))
    tokens = common.tokens_for(users, "user") + common.tokens_for(captains, "captain")
    return [{"id": str(doc["_id"]), "token": token}
            for doc, token in zip(users + captains, tokens, strict=True)]


def _rss(workers):
    return {who: common.proc_stats(pid)["rss_mb"] for who, pid in workers.items()}


def _ramp(cfg, name, specs, workers, pids):
    """Connect, settle, measure the idle cost, then step the chat rate up."""
    meter = common.CpuMeter(**pids)
    with Fleet("bench.push_latency:PushWorker", specs) as fleet:
        started = time.monotonic()
        connected = fleet.call("connect", timeout=CONNECT_TIMEOUT_S)
        connect_s = round(time.monotonic() - started, 1)
        settle_s = common.wait_idle(list(workers.values()))
        setup = {"connected": sum(r["connected"] for r in connected),
                 "failures": [r["failures"] for r in connected if r["failures"]],
                 "connect_s": connect_s, "settle_s": settle_s, "cpu": meter.read()}
        rss_held = _rss(workers)
        meter.start()
        time.sleep(cfg["idle_s"])
        idle = meter.read()
        print(f"[scale_curve] {name}: {setup['connected']} connected in {connect_s} s "
              f"(+{settle_s} s to quiet), rss {rss_held} MiB, idle cpu% {idle['cpu_pct']}",
              flush=True)
        steps = [push_latency.run_step(fleet, meter, n, rate, cfg["step_s"],
                                       f"scale_curve {name}", ("ack",))
                 for n, rate in enumerate(cfg["rates"])]
        rss_after = _rss(workers)
        fleet.call("close")
    return {"setup": setup, "rss_mb_held": rss_held, "rss_mb_after_steps": rss_after,
            "idle": idle, "steps": steps}


def summary(point):
    """The point's row of the curve: saturation and its costs."""
    steps = [s for s in point["steps"] if not s.get("skipped")]
    best = max((s for s in steps if held(s)), key=lambda s: s["achieved_rate"], default=None)
    empty, full = point["rss_mb_empty"], point["rss_mb_held"]
    per_process = point["clients"] / point["processes"]
    return {"name": point["name"], "clients": point["clients"],
            "processes": point["processes"], "redis": point["redis"],
            "connected": point["setup"]["connected"],
            "connect_s": point["setup"]["connect_s"],
            "saturation_msgs_per_s": best and best["achieved_rate"],
            "saturation_p99_ms": best and best["push_ms"]["p99"],
            "cpu_ms_per_msg_at_saturation": best and best["cpu_ms_per_msg"],
            "idle_cpu_pct": point["idle"]["cpu_pct"],
            "worker_rss_mb": full,
            "kib_per_socket": {who: round(1024 * (full[who] - empty[who]) / per_process, 1)
                               for who in full},
            "steps": [{"offered": s["offered_rate"], "achieved": s["achieved_rate"],
                       "p99_ms": (s["push_ms"] or {}).get("p99"), "lost": s["lost"],
                       "held": held(s), "cpu_ms_per_msg": s["cpu_ms_per_msg"]}
                      for s in steps],
            "load_average": point["load_average"]}


if __name__ == "__main__":
    import sys

    run(sys.argv[1] if len(sys.argv) > 1 else "full")

"""Scenario 12: what an idle authenticated websocket costs the realtime worker.

One realtime process as `make run` serves it (gunicorn, deploy/gunicorn_realtime.py, one
gevent worker, no Redis), with the probe of bench/probe_gunicorn.py in its worker.
Captains' websockets (authenticated, no presence event to the others) are opened by
the lean load clients in steps up to STEPS[-1]; after each step, once the worker is
idle and SETTLE_S later, the probe collects garbage and reports the worker's VmRSS,
greenlets and tracked objects: their growth per open socket is the cost of one.
A second, smaller run with tracemalloc on names the allocation sites that grew per
socket (tracemalloc's own bookkeeping inflates that run's RSS: it only says where).
"""
import json
import os
import tempfile
import time
from pathlib import Path

from bench import common
from bench.loadclient import Fleet

SIZES = {
    "full": {"steps": [1000, 5000, 10000], "workers": 4, "traced": 1000},
    "tiny": {"steps": [6, 12], "workers": 2, "traced": 6},
    # One step, no traced run: the A/Bs (`run("ab", out, deflate=..., **server_env)`).
    "ab": {"steps": [3000], "workers": 4, "traced": None},
}
SETTLE_S = 2.0
PROBE = Path(__file__).resolve().parent / "probe_gunicorn.py"
TRACED_FRAMES = 4
# Handshakes in flight per load client: more only queue up in the worker, and on a loaded
# machine the last ones outlast SOCKET_CONNECT_TIMEOUT.
CONCURRENCY = 25


def run(size="full", out_dir=None, deflate=False, **server_env):
    """`deflate`: the clients offer permessage-deflate, as browsers do; `server_env`:
    settings of the served process (e.g. GEVENT_TRACK_GREENLET_TREE="1"), for A/Bs."""
    cfg = SIZES[size]
    options = {"deflate": deflate, **server_env}
    result = {"size": size, "config": {**cfg, "settle_s": SETTLE_S, "deflate": deflate,
                                       "server_env": server_env},
              "ramp": ramp(cfg["steps"], cfg["workers"], **options)}
    common.write_result("idle_memory", result, out_dir)  # kept if the traced run fails
    if cfg["traced"]:
        result["traced"] = ramp([cfg["traced"]], cfg["workers"], traced=True, **options)
        common.write_result("idle_memory", result, out_dir)
    return result


def ramp(steps, workers, traced=False, deflate=False, **server_env):
    """Open sockets in `steps`; what the worker holds at each, and per socket."""
    total = steps[-1]
    label = "idle-memory-traced" if traced else "idle-memory"
    with common.Stack(label) as stack, tempfile.TemporaryDirectory() as probe_dir:
        env = {**server_env, "BENCH_PROBE_DIR": probe_dir}
        if traced:
            env["BENCH_TRACEMALLOC"] = TRACED_FRAMES
        service = stack.serve("realtime_service", config=PROBE, **env)
        pid = common.worker_pid(service)
        tokens = common.tokens_for(stack.seed("captain", total), "captain")
        specs = [{"port": service.port, "tokens": tokens[w::workers], "deflate": deflate}
                 for w in range(workers)]
        probe = Probe(Path(probe_dir))
        common.wait_idle([pid])
        base = probe.ask()
        rows, opened = [], 0
        with Fleet("bench.connections:ConnectionsWorker", specs) as fleet:
            for target in steps:
                per_worker = [{"start": opened // workers, "stop": target // workers}
                              for _ in range(workers)]
                began = time.monotonic()
                parts = fleet.call("connect", per_worker, concurrency=CONCURRENCY, timeout=900)
                seconds = time.monotonic() - began
                opened += sum(p["opened"] for p in parts)
                common.wait_idle([pid])
                time.sleep(SETTLE_S)  # let the last connects' short-lived tasks end
                row = per_socket(base, probe.ask(), opened)
                row.update(target=target, open=opened, connect_s=round(seconds, 1),
                           alive=sum(fleet.call("alive")), loadavg=os.getloadavg(),
                           deflated=sum(fleet.call("deflated")),
                           failures=[p["failures"] for p in parts if p["failures"]])
                rows.append(row)
                print(f"[idle_memory{' traced' if traced else ''}] {opened} open: "
                      f"{row['kib_per_socket']} KiB RSS per socket, "
                      f"{row['greenlets_per_socket']} greenlets and "
                      f"{row['objects_per_socket']} objects per socket; load "
                      f"{row['loadavg'][0]:.2f}", flush=True)
                if opened < target * 0.9:  # some handshakes lost to a loaded machine: on
                    break
            fleet.call("close")
    return {"base": base, "steps": rows}


def per_socket(base, now, opened):
    """The growth from `base` to `now`, per open socket."""
    share = max(opened, 1)

    def grown(key):
        before, after = base.get(key, {}), now.get(key, {})
        rows = {name: round((count - before.get(name, 0)) / share, 2)
                for name, count in after.items()}
        return dict(sorted(((k, v) for k, v in rows.items() if v >= 0.5),
                           key=lambda item: -item[1]))

    row = {"rss_kib": now["rss_kib"],
           "kib_per_socket": round((now["rss_kib"] - base["rss_kib"]) / share, 1),
           "anon_kib_per_socket": round((now["rss_anon_kib"] - base["rss_anon_kib"]) / share, 1),
           "greenlets_per_socket": round((now["greenlets"] - base["greenlets"]) / share, 2),
           "objects_per_socket": round((now["tracked_objects"] - base["tracked_objects"]) / share,
                                       1),
           "greenlet_kinds_per_socket": grown("greenlet_kinds"),
           "types_per_socket": grown("types"), "probe_s": now["probe_s"]}
    if "grown" in now:
        row["traced_kib_per_socket"] = round(
            (now["traced_kib"] - base["traced_kib"]) / share, 2)
        row["sites_kib_per_socket"] = [
            {**site, "kib": round(site["kib"] / share, 3),
             "count": round(site["count"] / share, 2)} for site in now["grown"]]
    return row


class Probe:
    """Asks the worker's probe (bench/probe_gunicorn.py) and waits for its answer."""

    def __init__(self, directory):
        self.directory = directory
        self.asked = 0

    def ask(self, timeout=900.0):
        self.asked += 1
        answer = self.directory / f"answer-{self.asked}.json"
        (self.directory / "request.tmp").write_text(json.dumps({"n": self.asked}))
        (self.directory / "request.tmp").rename(self.directory / "request.json")
        deadline = time.monotonic() + timeout
        while not answer.exists():
            if time.monotonic() > deadline:
                raise TimeoutError("the worker's probe did not answer")
            time.sleep(0.1)
        return json.loads(answer.read_text())


if __name__ == "__main__":
    import sys

    run(sys.argv[1] if len(sys.argv) > 1 else "full")

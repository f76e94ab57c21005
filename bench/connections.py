"""Scenario 3: connection capacity, a broadcast to everyone, and the presence storm.

A. Authenticated websockets (captains, so that no presence event fires during the
   ramp) opened in steps up to STEPS[-1] or the first failure, by several
   load-client processes: connections per second of each step, and the resident
   memory of the server's worker per connection. The server runs with REDIS_URL so
   that the bench can then emit, as an external Flask-SocketIO emitter, one
   `getOnlineUsers`-sized payload (every connected id) to all of them: the time from
   the emit to the last receipt.
B. The `getOnlineUsers` storm: STORM_USERS users connect to a fresh
   server in each mode of STORM_MODES (compat: the whole list to every user at most
   once per PRESENCE_ANNOUNCE_SECONDS; compat-every-change: on every change, as before
   the window; delta: the list to the newcomer, `userOnline` to the others); the
   time until the server is idle again, its CPU, and the frames and bytes received.
"""
import asyncio
import time

from socketio import RedisManager

from bench import common
from bench.loadclient import DeflateSocket, Fleet, Worker, connect_many, percentiles, totals

SIZES = {
    "full": {"steps": [1000, 2500, 5000, 7500, 10000], "workers": 4, "storm_users": 300},
    "tiny": {"steps": [6, 12], "workers": 2, "storm_users": 6},
}
BROADCAST = "getOnlineUsers"
STORM_MODES = {"compat": {"PRESENCE_EVENTS": "compat"},
               "compat-every-change": {"PRESENCE_EVENTS": "compat",
                                       "PRESENCE_ANNOUNCE_SECONDS": 0},
               "delta": {"PRESENCE_EVENTS": "delta"}}


class ConnectionsWorker(Worker):
    async def connect(self, start, stop, concurrency=100):
        """Open the sockets of tokens [start, stop) of this worker's list."""
        if not hasattr(self, "sockets"):
            self.sockets = []
        began = time.monotonic()
        opened, failures = await connect_many("127.0.0.1", self.spec["port"],
                                              self.spec["tokens"][start:stop], lambda _i: {},
                                              concurrency=concurrency,
                                              socket_class=DeflateSocket
                                              if self.spec.get("deflate") else None)
        self.sockets += [s for s in opened if s is not None]
        return {"opened": sum(s is not None for s in opened), "failures": dict(failures),
                "seconds": time.monotonic() - began}

    async def alive(self):
        return sum(not s.closed.is_set() for s in self.sockets)

    async def deflated(self):
        """How many sockets the server agreed to compress."""
        return sum(s.deflated for s in self.sockets)

    async def received(self, event):
        return sum(s.frames[event] > 0 for s in self.sockets)

    async def receipts(self, event):
        times = [s.last_at[event] for s in self.sockets if event in s.last_at]
        return {"times": times, "totals": totals(self.sockets)}

    async def close(self):
        for sock in self.sockets:
            await sock.close()
        await asyncio.sleep(0.1)


def run(size="full", out_dir=None):
    cfg = SIZES[size]
    result = {"size": size, "config": cfg, "ramp": ramp(cfg), "storm": {}}
    for mode in STORM_MODES:
        result["storm"][mode] = storm(cfg, mode)
    common.write_result("connections", result, out_dir)
    return result


def ramp(cfg):
    workers, total = cfg["workers"], cfg["steps"][-1]
    with common.Stack("connections-ramp", redis_server=True) as stack:
        service = stack.serve("realtime_service")
        pid = common.worker_pid(service)
        docs = stack.seed("captain", total)
        tokens = common.tokens_for(docs, "captain")
        ids = [str(doc["_id"]) for doc in docs]
        specs = [{"port": service.port, "tokens": tokens[w::workers]} for w in range(workers)]
        common.wait_idle([pid])
        base_rss = common.proc_stats(pid)["rss_mb"]
        steps, opened = [], 0
        with Fleet("bench.connections:ConnectionsWorker", specs) as fleet:
            for target in cfg["steps"]:
                per_worker = [{"start": opened // workers, "stop": target // workers}
                              for _ in range(workers)]
                meter = common.CpuMeter(server=pid, db=stack.db_server.proc.pid)
                began = time.monotonic()
                parts = fleet.call("connect", per_worker, timeout=600)
                seconds = time.monotonic() - began
                usage = meter.read()
                new = sum(p["opened"] for p in parts)
                opened += new
                common.wait_idle([pid])
                rss = common.proc_stats(pid)["rss_mb"]
                failures = [p["failures"] for p in parts if p["failures"]]
                step = {"target": target, "open": opened, "new": new,
                        "connects_per_s": round(new / seconds, 1), "failures": failures,
                        "server_rss_mb": rss,
                        "kib_per_connection": round((rss - base_rss) * 1024 / opened, 1)
                        if opened else None,
                        "cpu": usage, "load_client_cpu_s": list(fleet.cpu)}
                steps.append(step)
                print(f"[connections] {opened} open (+{new} at {step['connects_per_s']}/s), "
                      f"server RSS {rss} MiB = {step['kib_per_connection']} KiB/conn, "
                      f"cpu {usage['cpu_pct']}, failures {failures}", flush=True)
                if failures:
                    break
            alive = sum(fleet.call("alive"))
            broadcast_result = broadcast(fleet, stack.redis_url, ids[:opened], alive)
            fleet.call("close")
    return {"base_rss_mb": base_rss, "steps": steps, "alive_before_broadcast": alive,
            "broadcast": broadcast_result}


def broadcast(fleet, redis_url, ids, alive):
    """One `getOnlineUsers` of every connected id, to every connected captain, emitted
    through Redis as an external process would."""
    emitter = RedisManager(redis_url, channel="flask-socketio", write_only=True)
    payload = sorted(ids)
    sent = time.monotonic()
    emitter.emit(BROADCAST, payload, namespace="/", room="role:captain")
    deadline = sent + 120  # bounded wait for the last receipt
    while time.monotonic() < deadline and sum(fleet.call("received", event=BROADCAST)) < alive:
        time.sleep(0.05)
    parts = fleet.call("receipts", event=BROADCAST)
    times = sorted(t for p in parts for t in p["times"])
    latencies = [(t - sent) * 1000 for t in times]
    result = {"recipients": alive, "received": len(times),
              "payload_bytes": len(str(payload).encode()),
              "last_ms": round(latencies[-1], 1) if latencies else None,
              "receipt_ms": percentiles(latencies), "load_client_cpu_s": list(fleet.cpu)}
    print(f"[connections] broadcast of {len(payload)} ids to {alive}: {len(times)} received, "
          f"last after {result['last_ms']} ms", flush=True)
    return result


def storm(cfg, mode):
    users = cfg["storm_users"]
    with common.Stack(f"connections-storm-{mode}") as stack:
        service = stack.serve("realtime_service", **STORM_MODES[mode])
        pid = common.worker_pid(service)
        docs = stack.seed("user", users)
        tokens = common.tokens_for(docs, "user")
        specs = [{"port": service.port, "tokens": tokens[w::2]} for w in range(2)]
        common.wait_idle([pid])
        with Fleet("bench.connections:ConnectionsWorker", specs) as fleet:
            meter = common.CpuMeter(server=pid)
            parts = fleet.call("connect", [{"start": 0, "stop": len(s["tokens"])} for s in specs],
                               concurrency=20, timeout=600)
            connect_s = max(p["seconds"] for p in parts)
            common.wait_idle([pid], timeout=300)
            usage = meter.read()
            frames = [p["totals"] for p in fleet.call("receipts", event="getOnlineUsers")]
            fleet.call("close")
    merged = {kind: {} for kind in ("frames", "bytes")}
    for part in frames:
        for kind in merged:
            for event, value in part[kind].items():
                merged[kind][event] = merged[kind].get(event, 0) + value
    result = {"users": users, "connected": sum(p["opened"] for p in parts),
              "connect_s": round(connect_s, 2), "settled_s": usage["wall_s"],
              "server_cpu_s": usage["cpu_s"]["server"], "load_client_cpu_s": list(fleet.cpu),
              **merged, "megabytes": round(sum(merged["bytes"].values()) / 2**20, 1)}
    print(f"[connections] presence {mode}: {users} users connected in {result['connect_s']} s, "
          f"server idle after {result['settled_s']} s ({result['server_cpu_s']} cpu-s); "
          f"frames {merged['frames']}, {result['megabytes']} MiB", flush=True)
    return result


if __name__ == "__main__":
    import sys

    run(sys.argv[1] if len(sys.argv) > 1 else "full")

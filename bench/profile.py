"""Scenario 5: authenticated `GET /users/profile` throughput and latency.

CONNECTIONS keep-alive connections (each with its own user's token), spread over
load-client processes, request the profile back to back (closed loop) for
SECONDS after a short warm-up, against the auth service under gunicorn
(deploy/gunicorn_auth.py). Every request checks the token: signature, blacklist
and account lookups.
"""
import asyncio
import time

from bench import common
from bench.loadclient import Fleet, Http, Worker, percentiles

SIZES = {
    "full": {"connections": 64, "seconds": 10.0, "warmup_s": 2.0, "workers": 2},
    "tiny": {"connections": 4, "seconds": 0.5, "warmup_s": 0.2, "workers": 2},
}


class ProfileWorker(Worker):
    async def hammer(self, seconds):
        """Each connection requests back to back until `seconds` are over."""
        deadline = time.monotonic() + seconds
        latencies, statuses = [], {}

        async def loop(token):
            http = Http("127.0.0.1", self.spec["port"])
            headers = {"Authorization": f"Bearer {token}"}
            try:
                while time.monotonic() < deadline:
                    started = time.monotonic()
                    status, _ = await http.request("GET", "/users/profile", headers=headers)
                    latencies.append((time.monotonic() - started) * 1000)
                    statuses[str(status)] = statuses.get(str(status), 0) + 1
            finally:
                http.close()

        began = time.monotonic()
        await asyncio.gather(*(loop(token) for token in self.spec["tokens"]))
        return {"latencies": latencies, "statuses": statuses,
                "seconds": time.monotonic() - began}


def run(size="full", out_dir=None):
    cfg = SIZES[size]
    with common.Stack("profile") as stack:
        service = stack.serve("auth_service")
        docs = stack.seed("user", cfg["connections"])
        tokens = common.tokens_for(docs, "user")
        result = measure(cfg, service.port, tokens, service.proc.pid, stack.db_server.proc.pid)
    result = {"size": size, "config": cfg, **result}
    common.write_result("profile", result, out_dir)
    print(f"[profile] {cfg['connections']} connections: {result['requests_per_s']} req/s, "
          f"latency {result['latency_ms']}, statuses {result['statuses']}, cpu% "
          f"{result['cpu']['cpu_pct']} cpu ms/request {result['cpu_ms_per_request']} "
          f"clients {result['load_client_cpu_pct']}", flush=True)
    return result


def measure(cfg, port, tokens, server_pid, db_pid):
    """Hammer `GET /users/profile` on `port` with `tokens` (a warm-up, then the measured
    run): requests/s, latency, statuses and CPU of the server and its database."""
    workers = cfg["workers"]
    specs = [{"port": port, "tokens": tokens[w::workers]} for w in range(workers)]
    with Fleet("bench.profile:ProfileWorker", specs) as fleet:
        fleet.call("hammer", seconds=cfg["warmup_s"])
        before = list(fleet.cpu)
        meter = common.CpuMeter(server=server_pid, db=db_pid)
        parts = fleet.call("hammer", seconds=cfg["seconds"], timeout=cfg["seconds"] + 60)
        usage = meter.read()
        client_cpu = [round(100 * (a - b) / usage["wall_s"], 1)
                      for b, a in zip(before, fleet.cpu, strict=True)]
    statuses = {}
    for part in parts:
        for code, count in part["statuses"].items():
            statuses[code] = statuses.get(code, 0) + count
    elapsed = max(part["seconds"] for part in parts)
    ok = statuses.get("200", 0)
    return {"statuses": statuses, "requests_per_s": round(ok / elapsed, 1),
            "latency_ms": percentiles([ms for part in parts for ms in part["latencies"]]),
            "cpu": usage, "load_client_cpu_pct": client_cpu,
            "cpu_ms_per_request": {who: round(1000 * cpu / max(1, ok), 2)
                                   for who, cpu in usage["cpu_s"].items()}}


if __name__ == "__main__":
    import sys

    run(sys.argv[1] if len(sys.argv) > 1 else "full")

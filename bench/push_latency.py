"""Scenario 1: chat push latency.

USERS users hold a websocket each (spread over load-client processes); PAIRS pairs
of them write to each other over `POST /messages/send/<id>` (each sender names its
own socket in X-Socket-ID, as a browser tab does, so one `newMessage` goes out per
message). The offered rate steps up, open loop (sends are scheduled, not waited
for); latency runs from a send's scheduled time to the receiver's `newMessage`, so a
queue in the client or the server counts. The sustained rate is the highest step
whose p99 stays under 100 ms with no message lost.

With `processes=2` (scenario 6) two realtime processes share a Redis; every pair
has its sender on one process and its receiver on the other.
"""
import asyncio
import itertools
import time
from collections import Counter

from bench import common
from bench.loadclient import Fleet, Http, Worker, connect_many, percentiles, totals

SIZES = {
    "full": {"users": 1000, "pairs": 200, "workers": 2, "step_s": 4.0,
             "rates": [20, 50, 100, 200, 300, 400, 600]},
    "tiny": {"users": 12, "pairs": 3, "workers": 2, "step_s": 1.0, "rates": [10]},
}
P99_LIMIT_MS = 100.0
SATURATED_P99_MS = 1000.0
HTTP_POOL = 64
SEND_TIMEOUT_S = 60.0  # after a step's last send is scheduled
# What a send looks like: Ridewire's own route, the sender naming its socket so that one
# `newMessage` goes out per message. bench.versus swaps in QuickChat's; `socket_auth`
# adds to the sockets' handshake auth (the token's `auth` says how a send is made).
RIDEWIRE_SEND = {"path": "/messages/send/{partner}", "auth": "bearer", "name_socket": True,
                 "query_user_id": False}
# Ridewire's socket send: the `send-message` event, acknowledged, over the connection.
RIDEWIRE_SOCKET_SEND = {"event": "send-message", "query_user_id": False}


class PushWorker(Worker):
    """Holds its share of the sockets; sends for the senders among them."""

    async def connect(self):
        self.latencies = {}
        self.request = self.spec.get("request", RIDEWIRE_SEND)
        started = time.monotonic()
        self.sockets, failures = await self._connect(self.spec["users"])
        return {"connected": sum(s is not None for s in self.sockets),
                "failures": dict(failures), "seconds": round(time.monotonic() - started, 2)}

    async def _connect(self, users):
        by_port = {}
        for i, user in enumerate(users):
            by_port.setdefault(user["port"], []).append(i)
        sockets, failures = [None] * len(users), Counter()
        for port, indexes in by_port.items():
            queries = ([f"&userId={users[i]['id']}" for i in indexes]
                       if self.request["query_user_id"] else None)
            done, failed = await connect_many("127.0.0.1", port,
                                              [users[i]["token"] for i in indexes],
                                              lambda j, ix=indexes: {
                                                  "newMessage": self._receiver(users[ix[j]])},
                                              queries=queries,
                                              auth=self.request.get("socket_auth"))
            for i, sock in zip(indexes, done, strict=True):
                sockets[i] = sock
            failures.update(failed)
        return sockets, failures

    def _receiver(self, user):
        """The `newMessage` handler of `user`'s socket: counts what reached its receiver
        (not a copy pushed to the sender's own socket)."""
        def received(message, received_at):
            if message.get("receiverId", user["id"]) == user["id"]:
                self._received(message, received_at)
        return received

    def _received(self, message, received_at):
        step, _, sent_at = (message.get("text") or "").partition("@")
        self.latencies.setdefault(step, []).append((received_at - float(sent_at)) * 1000)

    async def send(self, step, rate, duration):
        """Send `rate * duration` messages at `rate` per second, round-robin over the
        senders held here; return the POST outcomes (or the acknowledgements)."""
        senders = [(self.spec["users"][i], self.sockets[i], partner)
                   for i, partner in self.spec["senders"] if self.sockets[i] is not None]
        if self.request.get("event"):
            return await self._send_events(step, senders, rate, duration)
        pool = [Http("127.0.0.1", port) for port in self.spec["ports"] for _ in range(HTTP_POOL)]
        free = {port: [h for h in pool if h.port == port] for port in self.spec["ports"]}
        statuses, post_ms, tasks = {}, [], []
        cycle, total = itertools.cycle(senders), int(rate * duration)
        start = time.monotonic() + 0.05

        async def one(sender, sock, partner, scheduled):
            while not free[sender["port"]]:
                await asyncio.sleep(0.001)
            http = free[sender["port"]].pop()
            try:
                status, _ = await http.request(
                    "POST", self.request["path"].format(partner=partner),
                    {"text": f"{step}@{scheduled:.6f}"}, self._headers(sender, sock))
            except (ConnectionError, TimeoutError) as error:
                status = type(error).__name__
            free[sender["port"]].append(http)
            statuses[status] = statuses.get(status, 0) + 1
            post_ms.append((time.monotonic() - scheduled) * 1000)

        for k in range(total):
            scheduled = start + k / rate
            await asyncio.sleep(max(0.0, scheduled - time.monotonic()))
            tasks.append(asyncio.create_task(one(*next(cycle), scheduled)))
        late = await finish(tasks)
        if late:
            statuses["TimeoutError"] = statuses.get("TimeoutError", 0) + late
        elapsed = time.monotonic() - start
        for http in pool:
            http.close()
        return {"statuses": {str(k): v for k, v in statuses.items()}, "post_ms": post_ms,
                "elapsed": max(elapsed, duration)}

    async def _send_events(self, step, senders, rate, duration):
        """The same schedule as `send`, each message a socket event with an
        acknowledgement (`{"ok": true}`: status "ack") and a `clientMessageId`."""
        loop = asyncio.get_running_loop()
        statuses, post_ms, waiting = Counter(), [], []
        cycle, total = itertools.cycle(senders), int(rate * duration)
        start = time.monotonic() + 0.05

        def acked(answer, received_at, done, scheduled):
            ok = isinstance(answer, dict) and answer.get("ok") is True
            statuses["ack" if ok else f"refused: {answer}"[:120]] += 1
            post_ms.append((received_at - scheduled) * 1000)
            done.set_result(None)

        for k in range(total):
            scheduled = start + k / rate
            await asyncio.sleep(max(0.0, scheduled - time.monotonic()))
            _, sock, partner = next(cycle)
            done = loop.create_future()
            waiting.append(done)
            sock.emit_with_ack(self.request["event"], {
                "to": partner, "text": f"{step}@{scheduled:.6f}",
                "clientMessageId": f"{step}-{k}"},
                lambda answer, at, d=done, t=scheduled: acked(answer, at, d, t))
        late = await finish(waiting)
        if late:
            statuses["TimeoutError"] += late
        elapsed = time.monotonic() - start
        return {"statuses": dict(statuses), "post_ms": post_ms,
                "elapsed": max(elapsed, duration)}

    def _headers(self, sender, sock):
        request = self.request
        headers = ({"Authorization": f"Bearer {sender['token']}"}
                   if request["auth"] == "bearer" else {"token": sender["token"]})
        if request["name_socket"]:
            headers["X-Socket-ID"] = sock.sid
        return headers

    async def received(self, step):
        return len(self.latencies.get(str(step), []))

    async def collect(self, step):
        return self.latencies.pop(str(step), [])

    async def frames(self):
        return totals(self.sockets)

    async def close(self):
        await asyncio.gather(*(s.close() for s in self.sockets if s is not None))


async def finish(waiting, timeout=SEND_TIMEOUT_S):
    """Wait for the sends of a step; past `timeout`, cancel what is left and return how
    many (counted as lost sends, not a failed run: a saturated server is a result)."""
    if not waiting:
        return 0
    _, late = await asyncio.wait(waiting, timeout=timeout)
    for task in late:
        task.cancel()
    return len(late)


def plan(users, pairs, workers, ports):
    """Per-worker specs: user i is held by worker i % workers and connects to
    ports[i % len(ports)]; pair k is users 2k and 2k+1, each writing to the other."""
    specs = [{"users": [], "senders": [], "ports": ports} for _ in range(workers)]
    for i, user in enumerate(users):
        spec = specs[i % workers]
        spec["users"].append({**user, "port": ports[i % len(ports)]})
        if i < 2 * pairs:
            partner = users[i + 1 if i % 2 == 0 else i - 1]["id"]
            spec["senders"].append((len(spec["users"]) - 1, partner))
    return specs


def run(size="full", out_dir=None, processes=1, name="push_latency"):
    cfg = SIZES[size]
    with common.Stack(name, redis_server=processes > 1) as stack:
        services = [stack.serve("realtime_service", PRESENCE_EVENTS="delta")
                    for _ in range(processes)]
        docs = stack.seed("user", cfg["users"])
        users = [{"id": str(doc["_id"]), "token": token}
                 for doc, token in zip(docs, common.tokens_for(docs, "user"), strict=True)]
        specs = plan(users, cfg["pairs"], cfg["workers"], [s.port for s in services])
        meters = {f"server{i}": common.worker_pid(s) for i, s in enumerate(services)}
        setup, steps, frames = ramp(name, cfg, specs, meters, stack.db_server.proc.pid)
        server_rss = {name: common.proc_stats(pid)["rss_mb"] for name, pid in meters.items()}
    ok = [s for s in steps if s["ok"]]
    result = {"size": size, "config": cfg, "processes": processes,
              "presence_events": "delta", "setup": setup, "steps": steps,
              "sustained_msgs_per_s": max((s["achieved_rate"] for s in ok), default=None),
              "server_rss_mb": server_rss, "frames_total": frames}
    common.write_result(name, result, out_dir)
    print(f"[{name}] sustained {result['sustained_msgs_per_s']} msg/s with p99 < "
          f"{P99_LIMIT_MS:.0f} ms", flush=True)
    return result


def ramp(name, cfg, specs, meters, db_pid, ok_statuses=("201",)):
    """Connect every user, wait for the servers (`meters`: name -> pid) to go quiet,
    then step the offered rate up: `(setup, steps, frames)`."""
    cpu = common.CpuMeter(db=db_pid, **meters)
    with Fleet("bench.push_latency:PushWorker", specs) as fleet:
        connected = fleet.call("connect", timeout=180)
        connect_s = max(r["seconds"] for r in connected)
        settle_s = common.wait_idle(list(meters.values()))  # the presence storm
        setup = {"connected": sum(r["connected"] for r in connected),
                 "failures": [r["failures"] for r in connected if r["failures"]],
                 "connect_s": connect_s, "settle_s": settle_s,
                 "cpu": cpu.read(), "load_client_cpu_s": list(fleet.cpu),
                 "frames": _merge_frames(fleet.call("frames"))}
        print(f"[{name}] connected {setup['connected']}/{cfg['users']} users "
              f"in {connect_s} s, server settled {settle_s} s later; "
              f"cpu {setup['cpu']['cpu_s']} clients {setup['load_client_cpu_s']}", flush=True)
        steps = [run_step(fleet, cpu, n, rate, cfg["step_s"], name, ok_statuses)
                 for n, rate in enumerate(cfg["rates"])]
        frames = _merge_frames(fleet.call("frames"))
        fleet.call("close")
    return setup, steps, frames


def run_step(fleet, cpu, step, rate, duration, name, ok_statuses=("201",)):
    if getattr(fleet, "stop_steps", False):
        return {"step": step, "rate": rate, "skipped": True, "ok": False}
    workers = len(fleet.procs)
    client_cpu = list(fleet.cpu)
    cpu.start()
    sent = fleet.call("send", step=step, rate=rate / workers, duration=duration,
                      timeout=duration + 120)
    ok_posts = sum(r["statuses"].get(code, 0) for r in sent for code in ok_statuses)
    deadline = time.monotonic() + 5.0  # bounded drain
    while time.monotonic() < deadline:
        if sum(fleet.call("received", step=step)) >= ok_posts:
            break
        time.sleep(0.05)
    usage = cpu.read()
    latencies = [ms for part in fleet.call("collect", step=step) for ms in part]
    statuses = {}
    for r in sent:
        for key, value in r["statuses"].items():
            statuses[key] = statuses.get(key, 0) + value
    elapsed = max(r["elapsed"] for r in sent)
    push = percentiles(latencies)
    result = {
        "step": step, "offered_rate": rate, "achieved_rate": round(ok_posts / elapsed, 1),
        "statuses": statuses, "delivered": len(latencies), "lost": ok_posts - len(latencies),
        "push_ms": push, "post_ms": percentiles([ms for r in sent for ms in r["post_ms"]]),
        "cpu": usage,
        # CPU per delivered message: steadier than latency on a busy machine.
        "cpu_ms_per_msg": {who: round(1000 * cpu / len(latencies), 2) if latencies else None
                           for who, cpu in usage["cpu_s"].items()},
        "load_client_cpu_pct": [round(100 * (after - before) / usage["wall_s"], 1)
                                for before, after in zip(client_cpu, fleet.cpu, strict=True)],
    }
    result["ok"] = bool(push and push["p99"] < P99_LIMIT_MS and result["lost"] == 0
                        and ok_posts == sum(statuses.values()))
    # Past saturation (the offered rate not reached, or seconds of queueing): stop.
    if result["achieved_rate"] < 0.9 * rate or not push or push["p99"] > SATURATED_P99_MS:
        fleet.stop_steps = True
    print(f"[{name}] {rate:>4} msg/s offered, {result['achieved_rate']} achieved: push "
          f"{push} lost {result['lost']} | cpu% {usage['cpu_pct']} "
          f"cpu ms/msg {result['cpu_ms_per_msg']} "
          f"clients {result['load_client_cpu_pct']}", flush=True)
    return result


def _merge_frames(parts):
    merged = {"frames": {}, "bytes": {}}
    for part in parts:
        for kind in merged:
            for event, value in part[kind].items():
                merged[kind][event] = merged[kind].get(event, 0) + value
    return merged


if __name__ == "__main__":
    import sys

    run(sys.argv[1] if len(sys.argv) > 1 else "full")

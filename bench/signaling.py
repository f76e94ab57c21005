"""Scenario 9: WebRTC signaling at scale on one realtime process.

ROOMS call rooms of 2, 3 and 4 members (in turn) negotiate at once. A room's set-up is
what browsers do: its creator sends `call-start` (a meeting), every member sends
`call-join` at the same moment, and each joiner offers to the members its
acknowledgement lists (the joiner offers); a member that gets an offer answers, and
both sides trickle CANDIDATES ICE candidates, all as `signal` with synthetic payloads
of real sizes (bench/webrtc_payloads.py: SDP 3-5 KB, candidates ~200 bytes). Once every
pair has both descriptions and all candidates, the creator ends the call (`call-end`)
and the room starts again with a new call, for STEP_S seconds: ROOMS rooms keep
negotiating at once for the whole step. Steps ramp the rooms (100, 300, 1,000).

Measured per step: join-to-first-relayed-offer (from a joiner's `call-join` to the
first of its offers received by a member; the first set-up of every room, all started
together, and all set-ups), set-up time (`call-start` to the last candidate), signals
relayed per second (received `signal` events), and the CPU seconds of the realtime
worker (/proc/<pid>/stat, before and after) and of the database per call set-up.

Members are captains (no presence events). All members of a room are held by one
load-client process, so its times are on one clock. The server runs as `make bench`
serves it, rate limits off; BENCH_SIGNALING_LIMITS=on turns them on (every event and
signal counted in memory, as one production process without Redis does) with budgets
no step reaches. BENCH_SIGNALING_ROOMS="30,100" runs those steps only.
"""
import asyncio
import itertools
import json
import os
import time

from bench import common, webrtc_payloads
from bench.loadclient import Fleet, Socket, Worker, percentiles

SIZES = {
    "full": {"rooms": [30, 100, 300, 1000], "workers": 2, "step_s": 15.0},
    "tiny": {"rooms": [2, 3], "workers": 2, "step_s": 1.0},
}
ROOM_SIZES = (2, 3, 4)
CANDIDATES = 4  # per side of each peer connection (host and server-reflexive, two m-lines)
# A set-up is given up after this: long, so that an overloaded step is measured (how
# long its set-ups took) rather than cut off.
ACK_S = 300.0
# The server as `make bench` serves it: rate limits off. BENCH_SIGNALING_LIMITS=on counts
# every event and signal as production does, with budgets no step reaches.
LIMITS = {"RATELIMIT_ENABLED": "true", "SOCKET_EVENT_RATE_LIMIT": "1000000 per minute",
          "CALL_SIGNAL_RATE_LIMIT": "1000000 per 10 seconds"}
# A worker still busy with a step's backlog is killed by its master, not left behind.
SERVER_ENV = {"GRACEFUL_TIMEOUT": "5"}


class AckSocket(Socket):
    """The lean client with acknowledgements: `ask(event, data)` is a future of the
    server's answer."""

    def __init__(self, handlers=None):
        super().__init__(handlers)
        self.pending, self.ack_ids = {}, itertools.count()

    def ask(self, event, data):
        ack_id = next(self.ack_ids)
        future = asyncio.get_running_loop().create_future()
        self.pending[ack_id] = future
        self.send_raw(f"42{ack_id}" + json.dumps([event, data]))
        return future

    def _message(self, packet):
        if not packet.startswith("43"):
            super()._message(packet)
            return
        body = packet.find("[")
        future = self.pending.pop(int(packet[2:body]), None)
        if future is not None and not future.done():
            future.set_result(json.loads(packet[body:])[0])


class Member:
    """One member's socket and what it got during the current set-up."""

    def __init__(self, account_id, token):
        self.id, self.token, self.sock = account_id, token, None
        self.room, self.setup = None, None

    def on_signal(self, data, received_at):
        if self.setup is not None and data["room"] == self.room:
            self.setup.received(self, data["from"], data["data"], received_at)


class SetUp:
    """One call's negotiation between `members`: who offered, what each received."""

    def __init__(self, room, members, payloads):
        self.room, self.members, self.payloads = room, members, payloads
        self.by_id = {m.id: m for m in members}
        self.join_sent, self.first_offer = {}, {}
        self.expected = {m.id: (len(members) - 1) * (1 + CANDIDATES) for m in members}
        self.done = asyncio.get_running_loop().create_future()
        self.refused, self.signals = [], 0
        for member in members:
            member.room, member.setup = room, self

    def send(self, sender, to, kind):
        pool = self.payloads[kind]
        data = pool[hash((sender.id, to, kind)) % len(pool)]
        self.watch(sender.sock.ask("signal", {"room": self.room, "to": to, "data": data}))

    def negotiate(self, sender, to, kind):
        """Send a description, then trickle the candidates."""
        self.send(sender, to, kind)
        for n in range(CANDIDATES):
            pool = self.payloads["candidate"]
            self.watch(sender.sock.ask("signal", {"room": self.room, "to": to,
                                                  "data": pool[n % len(pool)]}))

    def watch(self, future):
        future.add_done_callback(lambda f: f.result().get("ok") or self.refused.append(
            f.result().get("message")))

    def joined(self, member, ack):
        if not ack.get("ok"):
            self.refused.append(ack.get("message"))
            self.finish()
            return
        for other in ack["members"][:-1]:  # those before it: it offers to each
            self.negotiate(member, other["accountId"], "offer")

    def received(self, member, sender, data, received_at):
        self.signals += 1
        if data.get("type") == "offer":
            self.first_offer.setdefault(sender, received_at - self.join_sent[sender])
            self.negotiate(member, sender, "answer")
        self.expected[member.id] -= 1
        if not any(self.expected.values()):
            self.finish()

    def finish(self):
        if not self.done.done():
            self.done.set_result(time.monotonic())


class SignalingWorker(Worker):
    """Holds the members of its rooms; runs their set-ups back to back in a step."""

    async def connect(self, concurrency=50):
        self.payloads = webrtc_payloads.pool(os.getpid())
        self.rooms = [[Member(m["id"], m["token"]) for m in room] for room in self.spec["rooms"]]
        gate, failures = asyncio.Semaphore(concurrency), []
        started = time.monotonic()

        async def one(member):
            async with gate:
                try:
                    member.sock = await AckSocket({"signal": member.on_signal}).connect(
                        "127.0.0.1", self.spec["port"], member.token)
                except (OSError, ConnectionError, TimeoutError) as error:
                    failures.append(repr(error)[:80])

        await asyncio.gather(*(one(m) for room in self.rooms for m in room))
        return {"connected": sum(m.sock is not None for room in self.rooms for m in room),
                "failures": failures[:5], "seconds": round(time.monotonic() - started, 2)}

    async def step(self, rooms, duration):
        """Run set-ups in the first `rooms` rooms until `duration` seconds have passed."""
        self.results = []
        deadline = time.monotonic() + duration
        await asyncio.gather(*(self.cycle(room, deadline) for room in self.rooms[:rooms]))
        return self.summary()

    async def cycle(self, members, deadline):
        first = True
        while first or time.monotonic() < deadline:
            self.results.append(await self.set_up(members, first))
            first = False

    async def set_up(self, members, first):
        creator, started, setup = members[0], time.monotonic(), None
        try:
            async with asyncio.timeout(ACK_S):
                ack = await creator.sock.ask("call-start", {"kind": "meeting"})
                if not ack.get("ok"):
                    return {"first": first, "refused": [ack.get("message")]}
                setup = SetUp(ack["room"], members, self.payloads)
                for member in members:
                    setup.join_sent[member.id] = time.monotonic()
                    member.sock.ask("call-join", {"room": setup.room}).add_done_callback(
                        lambda f, m=member: setup.joined(m, f.result()))
                finished = await setup.done
                await creator.sock.ask("call-end", {"room": setup.room})
        except TimeoutError:
            reasons = setup.refused if setup else []
            return {"first": first, "refused": ["timed out", *sorted(set(map(str, reasons)))]}
        finally:
            for member in members:
                member.setup = None
        return {"first": first, "refused": setup.refused, "signals": setup.signals,
                "setup_ms": (finished - started) * 1000,
                "first_offer_ms": [s * 1000 for s in setup.first_offer.values()]}

    def summary(self):
        ok = [r for r in self.results if not r["refused"]]
        return {"setups": len(ok), "failed": [r["refused"] for r in self.results
                                              if r["refused"]][:5],
                "failures": len(self.results) - len(ok),
                "signals": sum(r.get("signals", 0) for r in self.results),
                "setup_ms": [r["setup_ms"] for r in ok],
                "first_offer_ms": [ms for r in ok for ms in r["first_offer_ms"]],
                "first_round_offer_ms": [ms for r in ok if r["first"]
                                         for ms in r["first_offer_ms"]]}

    async def close(self):
        for room in self.rooms:
            for member in room:
                if member.sock is not None:
                    await member.sock.close()


def plan(docs, tokens, rooms, workers, port):
    """Room r has ROOM_SIZES[r % 3] members and is held by worker r % workers."""
    accounts = iter(zip(docs, tokens, strict=True))
    specs = [{"port": port, "rooms": []} for _ in range(workers)]
    for r in range(rooms):
        members = [{"id": str(doc["_id"]), "token": token}
                   for doc, token in itertools.islice(accounts, ROOM_SIZES[r % 3])]
        specs[r % workers]["rooms"].append(members)
    return specs


def run(size="full", out_dir=None):
    cfg = dict(SIZES[size])
    if os.environ.get("BENCH_SIGNALING_ROOMS"):  # e.g. "30,100": these steps only
        cfg["rooms"] = [int(n) for n in os.environ["BENCH_SIGNALING_ROOMS"].split(",")]
    most = cfg["rooms"][-1]
    members = sum(ROOM_SIZES[r % 3] for r in range(most))
    with common.Stack("signaling") as stack:
        limits = os.environ.get("BENCH_SIGNALING_LIMITS") == "on"
        service = stack.serve("realtime_service", **SERVER_ENV, **(LIMITS if limits else {}))
        docs = stack.seed("captain", members)
        specs = plan(docs, common.tokens_for(docs, "captain"), most, cfg["workers"],
                     service.port)
        pids = {"server": common.worker_pid(service), "db": stack.db_server.proc.pid}
        with Fleet("bench.signaling:SignalingWorker", specs) as fleet:
            connected = fleet.call("connect", timeout=300)
            setup = {"connected": sum(r["connected"] for r in connected), "members": members,
                     "failures": [f for r in connected for f in r["failures"]],
                     "connect_s": max(r["seconds"] for r in connected),
                     "settle_s": common.wait_idle(list(pids.values()))}
            print(f"[signaling] {setup['connected']}/{members} members connected in "
                  f"{setup['connect_s']} s", flush=True)
            steps = [run_step(fleet, pids, rooms, cfg) for rooms in cfg["rooms"]]
            fleet.call("close")
    result = {"size": size, "config": cfg, "rate_limits": limits, "room_sizes": ROOM_SIZES,
              "candidates": CANDIDATES,
              "payload_bytes": webrtc_payloads.sizes(webrtc_payloads.pool(0)),
              "setup": setup, "steps": steps}
    common.write_result("signaling", result, out_dir)
    return result


def run_step(fleet, pids, rooms, cfg):
    """One step: `rooms` rooms set up calls back to back for step_s seconds."""
    load_before = os.getloadavg()
    client_cpu = list(fleet.cpu)
    cpu = common.CpuMeter(**pids)
    per_worker = [{"rooms": len(range(w, rooms, cfg["workers"]))}
                  for w in range(cfg["workers"])]
    parts = fleet.call("step", per_worker=per_worker, duration=cfg["step_s"],
                       timeout=cfg["step_s"] + 2 * ACK_S)
    usage = cpu.read()
    setups = sum(p["setups"] for p in parts)
    signals = sum(p["signals"] for p in parts)
    merged = {key: [ms for p in parts for ms in p[key]]
              for key in ("setup_ms", "first_offer_ms", "first_round_offer_ms")}
    result = {
        "rooms": rooms, "setups": setups, "failures": sum(p["failures"] for p in parts),
        "failed": [f for p in parts for f in p["failed"]][:5],
        "signals_relayed": signals, "signals_per_s": round(signals / usage["wall_s"], 1),
        "setups_per_s": round(setups / usage["wall_s"], 2),
        "first_offer_ms": percentiles(merged["first_offer_ms"]),
        "first_round_offer_ms": percentiles(merged["first_round_offer_ms"]),
        "setup_ms": percentiles(merged["setup_ms"]), "cpu": usage,
        "cpu_s_per_setup": {who: round(cpu_s / setups, 4) if setups else None
                            for who, cpu_s in usage["cpu_s"].items()},
        "cpu_ms_per_signal": {who: round(1000 * cpu_s / signals, 2) if signals else None
                              for who, cpu_s in usage["cpu_s"].items()},
        "load_client_cpu_pct": [round(100 * (after - before) / usage["wall_s"], 1)
                                for before, after in zip(client_cpu, fleet.cpu, strict=True)],
        "loadavg": {"before": load_before, "after": os.getloadavg()},
    }
    print(f"[signaling] {rooms} rooms: {setups} set-ups ({result['failures']} failed), "
          f"{result['signals_per_s']} signals/s; first offer {result['first_offer_ms']} "
          f"(first round {result['first_round_offer_ms']}); cpu {usage['cpu_pct']} %, "
          f"per set-up {result['cpu_s_per_setup']} s; clients "
          f"{result['load_client_cpu_pct']} %", flush=True)
    common.wait_idle(list(pids.values()))
    return result


if __name__ == "__main__":
    import sys

    run(sys.argv[1] if len(sys.argv) > 1 else "full")

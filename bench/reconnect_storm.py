"""Scenario 10: a reconnect storm under connection state recovery.

RECEIVERS users hold a websocket each (the lean client, which speaks recovery as
socket.io-client does) while separate sender accounts send them chat messages over
`POST /messages/send/<id>` at a steady RATE, open loop, round-robin over the
receivers, each text carrying a sequence number. After STEADY_S seconds of steady
sending, every receiver's connection is dropped at once (`transport.abort()`: no
close frame, as a network cut) and all reconnect at once (CONCURRENCY handshakes in
flight per load-client process) with their `pid` and last offset, while the senders
keep sending for AFTER_S more seconds.

Measured: the time from the drop until every receiver was back (and recovered: the
same `pid` and socket id), how many recovered, the messages replayed (received on the
new connection, their POST answered before it was back), lost (a 201 whose message
never reached its receiver: must be 0) and duplicated (received twice: must be 0),
events whose offset was not after the previous one, and the realtime worker's CPU:
its steady rate while sending, the storm window (drop to all back, plus TAIL_S), and
the excess over the steady rate per recovery. Once without Redis (the log in the
worker's memory) and once with REDIS_URL (a Redis Stream). `PRESENCE_EVENTS=delta`:
within PRESENCE_GRACE_SECONDS (5 s) a recovered user is announced neither offline nor
online.
"""
import asyncio
import itertools
import os
import time

from bench import common
from bench.loadclient import Fleet, Http, Socket, Worker, connect_many, totals
from bench.reconnect_tally import summarize, tally

SIZES = {
    "full": {"receivers": 1000, "senders": 20, "workers": 2, "rate": 100.0,
             "steady_s": 15.0, "after_s": 15.0, "tail_s": 5.0, "concurrency": 100},
    "tiny": {"receivers": 6, "senders": 2, "workers": 2, "rate": 10.0,
             "steady_s": 2.0, "after_s": 2.0, "tail_s": 1.0, "concurrency": 10},
}
SETUPS = {"embedded": False, "redis": True}
HTTP_POOL = 64
WARMUP_S = 1.0  # sending before the steady window: the HTTP connections open
RESUME_ATTEMPTS, RESUME_TIMEOUT_S, RETRY_S = 5, 60.0, 1.0
DRAIN_S = 15.0


def position(offset):
    """An offset's place in its log: `<epoch>:<n>` in memory, `<ms>-<seq>` in Redis."""
    if ":" in offset:
        return 0, int(offset.partition(":")[2])
    milliseconds, _, sequence = offset.partition("-")
    return int(milliseconds), int(sequence)


class StormSocket(Socket):
    """The lean client, counting events whose offset is not after the one before (a
    duplicate or a reordering), across its connections."""

    def __init__(self, handlers=None):
        super().__init__(handlers)
        self.disorder = []

    def _note_offset(self, offset):
        if offset is not None and self.offset is not None \
                and position(offset) <= position(self.offset):
            self.disorder.append((self.offset, offset))
        super()._note_offset(offset)


class Receiver:
    """One receiver: its socket, and every message it got (seq -> [(time, offset)])."""

    def __init__(self, account_id):
        self.id, self.sock, self.got = account_id, None, {}

    def on_message(self, message, received_at):
        seq = int(message["text"].rpartition("#")[2])
        offset = self.sock.offset if self.sock is not None else None
        self.got.setdefault(seq, []).append((received_at, offset))


class ReceiverWorker(Worker):
    async def connect(self, concurrency=50):
        self.receivers = [Receiver(r["id"]) for r in self.spec["receivers"]]
        started = time.monotonic()
        sockets, failures = await connect_many(
            "127.0.0.1", self.spec["port"], [r["token"] for r in self.spec["receivers"]],
            lambda i: {"newMessage": self.receivers[i].on_message},
            concurrency=concurrency, socket_class=StormSocket)
        for receiver, sock in zip(self.receivers, sockets, strict=True):
            receiver.sock = sock
        return {"connected": sum(s is not None for s in sockets),
                "failures": dict(failures), "seconds": round(time.monotonic() - started, 2)}

    async def storm(self, concurrency):
        """Drop every connection at once, then resume them all, `concurrency` at a time."""
        present = [r for r in self.receivers if r.sock is not None]
        before = {r.id: (r.sock.sid, r.sock.pid, r.sock.offset) for r in present}
        dropped_at = time.monotonic()
        for receiver in present:
            receiver.sock.drop()
        gate = asyncio.Semaphore(concurrency)
        outcomes = await asyncio.gather(*(self._resume(r, gate) for r in present))
        for outcome in outcomes:
            sid, pid, offset = before[outcome["id"]]
            outcome.update(dropped_at=dropped_at, offset_at_drop=offset,
                           same_sid=outcome["sid"] == sid, same_pid=outcome["pid"] == pid)
        return outcomes

    async def _resume(self, receiver, gate):
        sock, errors = receiver.sock, []
        async with gate:
            while len(errors) < RESUME_ATTEMPTS:
                try:
                    await sock.resume(RESUME_TIMEOUT_S)
                    break
                except (OSError, ConnectionError, TimeoutError,
                        asyncio.IncompleteReadError) as failure:
                    errors.append(f"{type(failure).__name__}: {str(failure)[:80]}")
                    await asyncio.sleep(RETRY_S)
        error = errors[-1] if len(errors) == RESUME_ATTEMPTS else None
        return {"id": receiver.id, "attempts": len(errors) + (error is None),
                "error": error, "attempt_errors": errors,
                "resumed_at": None if error else sock.connected_at,
                "recovered": error is None and sock.recovered,
                "sid": None if error else sock.sid, "pid": None if error else sock.pid}

    async def received(self):
        return sum(len(r.got) for r in self.receivers)

    async def frames(self):
        return totals([r.sock for r in self.receivers])

    async def collect(self):
        return [{"id": r.id, "got": r.got, "disorder": r.sock.disorder if r.sock else []}
                for r in self.receivers]

    async def close(self):
        await asyncio.gather(*(r.sock.close() for r in self.receivers if r.sock))


class SenderWorker(Worker):
    """Sends `storm #<seq>` to receivers[seq % n] from senders[seq % m], open loop."""

    async def start(self, rate):
        self.records, self.stopping = [], False
        self.task = asyncio.create_task(self._send(rate))
        return True

    async def _send(self, rate):
        senders, receivers = self.spec["senders"], self.spec["receivers"]
        pool = [Http("127.0.0.1", self.spec["port"]) for _ in range(HTTP_POOL)]
        self.free, pending = list(pool), set()
        start = time.monotonic()
        for seq in itertools.count():
            await asyncio.sleep(max(0.0, start + seq / rate - time.monotonic()))
            if self.stopping:
                break
            task = asyncio.create_task(self._one(seq, senders[seq % len(senders)],
                                                 receivers[seq % len(receivers)]))
            pending.add(task)
            task.add_done_callback(pending.discard)
        if pending:
            await asyncio.wait(pending, timeout=90)
        for http in pool:
            http.close()
        self.elapsed = time.monotonic() - start

    async def _one(self, seq, sender, receiver):
        while not self.free:
            await asyncio.sleep(0.001)
        http = self.free.pop()
        issued = time.monotonic()
        try:
            status, _ = await http.request(
                "POST", f"/messages/send/{receiver}", {"text": f"storm #{seq}"},
                {"Authorization": f"Bearer {sender['token']}"}, timeout=60)
        except (ConnectionError, TimeoutError) as error:
            status = type(error).__name__
        self.free.append(http)
        self.records.append((seq, receiver, issued, time.monotonic(), str(status)))

    async def stop(self):
        self.stopping = True
        await self.task
        return {"records": self.records, "elapsed": self.elapsed}


def run(size="full", out_dir=None):
    cfg = SIZES[size]
    result = {"size": size, "config": cfg, "setups": {}}
    for name, with_redis in SETUPS.items():
        result["setups"][name] = storm(cfg, name, with_redis)
    common.write_result("reconnect_storm", result, out_dir)
    return result


def storm(cfg, name, with_redis):
    loadavg = {"start": os.getloadavg()}
    with common.Stack(f"reconnect-storm-{name}", redis_server=with_redis) as stack:
        service = stack.serve("realtime_service", PRESENCE_EVENTS="delta")
        pids = {"server": common.worker_pid(service), "db": stack.db_server.proc.pid}
        if with_redis:
            pids["redis"] = stack.servers.redis_proc.proc.pid
        receivers = accounts(stack, cfg["receivers"])
        senders = accounts(stack, cfg["senders"])
        workers = cfg["workers"]
        specs = [{"port": service.port, "receivers": receivers[w::workers]}
                 for w in range(workers)]
        sender_spec = {"port": service.port, "senders": senders,
                       "receivers": [r["id"] for r in receivers]}
        with Fleet("bench.reconnect_storm:ReceiverWorker", specs) as fleet, \
                Fleet("bench.reconnect_storm:SenderWorker", [sender_spec]) as sending:
            parts = fleet.call("connect", timeout=600)
            setup = {"connected": sum(p["connected"] for p in parts),
                     "failures": [p["failures"] for p in parts if p["failures"]],
                     "connect_s": max(p["seconds"] for p in parts),
                     "settle_s": common.wait_idle([pids["server"]], timeout=300)}
            print(f"[storm {name}] {setup['connected']}/{cfg['receivers']} receivers "
                  f"connected in {setup['connect_s']} s", flush=True)
            phases = drive(cfg, fleet, sending, pids, loadavg)
            outcomes = [o for part in phases.pop("outcomes") for o in part]
            records = phases.pop("sent")
            got = drain(fleet, records)
            collected = [c for part in fleet.call("collect") for c in part]
            fleet.call("close")
    loadavg["end"] = os.getloadavg()
    counts = tally(records, collected, outcomes)
    result = summarize(name, cfg, setup, phases, outcomes, counts, loadavg, records)
    result["drained"] = got
    return result


def accounts(stack, count):
    docs = stack.seed("user", count)
    return [{"id": str(doc["_id"]), "token": token}
            for doc, token in zip(docs, common.tokens_for(docs, "user"), strict=True)]


def drive(cfg, fleet, sending, pids, loadavg):
    """Steady sending, the storm, sending on: the CPU and frames of each phase."""
    sending.call("start", rate=cfg["rate"])
    time.sleep(WARMUP_S)
    steady = common.CpuMeter(**pids)
    time.sleep(cfg["steady_s"])
    phases = {"steady": steady.read()}
    frames_before = merged_frames(fleet)
    loadavg["drop"] = os.getloadavg()
    meter = common.CpuMeter(**pids)
    phases["outcomes"] = fleet.call("storm", concurrency=cfg["concurrency"], timeout=900)
    phases["storm"] = meter.read()
    time.sleep(cfg["tail_s"])
    phases["storm_and_tail"] = meter.read()
    after = common.CpuMeter(**pids)
    time.sleep(max(0.0, cfg["after_s"] - cfg["tail_s"]))
    phases["after"] = after.read()
    frames_after = merged_frames(fleet)
    phases["storm_frames"] = {event: count - frames_before.get(event, 0)
                              for event, count in frames_after.items()}
    sent = sending.call("stop", timeout=300)[0]
    phases["sent"], phases["send_elapsed_s"] = sent["records"], sent["elapsed"]
    return phases


def merged_frames(fleet):
    merged = {}
    for part in fleet.call("frames"):
        for event, count in part["frames"].items():
            merged[event] = merged.get(event, 0) + count
    return merged


def drain(fleet, records):
    """Wait (bounded) until as many messages arrived as were answered 201."""
    expected = sum(1 for record in records if record[4] == "201")
    deadline, got = time.monotonic() + DRAIN_S, 0
    while time.monotonic() < deadline:
        got = sum(fleet.call("received"))
        if got >= expected:
            break
        time.sleep(0.1)
    return {"expected": expected, "received": got}


if __name__ == "__main__":
    import sys

    run(sys.argv[1] if len(sys.argv) > 1 else "full")

"""The load-client processes of the reconnect storm (bench.reconnect_storm): receivers
that come back as socket.io-client does (at once in the storm, about a second after
the server closed their connection otherwise) and record every message with its
offset, and senders that post chat messages open loop, each text carrying its
sequence number."""
import asyncio
import contextlib
import itertools
import random
import time

from bench.loadclient import Http, Socket, Worker, connect_many, totals

HTTP_POOL = 64
RESUME_ATTEMPTS, RESUME_TIMEOUT_S, RETRY_S = 5, 60.0, 1.0
RECONNECT_S = 1.0  # socket.io-client's reconnectionDelay (randomizationFactor 0.5)


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
    """One receiver: its socket, every message it got (seq -> [(time, offset)]) and
    the outcome of each time it came back."""

    def __init__(self, account_id):
        self.id, self.sock, self.got = account_id, None, {}
        self.comebacks, self.storm = [], None  # storm: its outcome's future, meanwhile

    def on_message(self, message, received_at):
        seq = int(message["text"].rpartition("#")[2])
        offset = self.sock.offset if self.sock is not None else None
        self.got.setdefault(seq, []).append((received_at, offset))


class ReceiverWorker(Worker):
    """Holds its receivers' sockets and brings them back as socket.io-client would: at
    once in the storm, after RECONNECT_S (+-50 %) when the server closed one."""

    async def connect(self, concurrency=50):
        self.receivers = [Receiver(r["id"]) for r in self.spec["receivers"]]
        self.closing, self.gate = False, asyncio.Semaphore(concurrency)
        started = time.monotonic()
        sockets, failures = await connect_many(
            "127.0.0.1", self.spec["port"], [r["token"] for r in self.spec["receivers"]],
            lambda i: {"newMessage": self.receivers[i].on_message},
            concurrency=concurrency, socket_class=StormSocket)
        for receiver, sock in zip(self.receivers, sockets, strict=True):
            receiver.sock = sock
        self.keepers = [asyncio.create_task(self._keep(r)) for r in self.receivers if r.sock]
        return {"connected": sum(s is not None for s in sockets),
                "failures": dict(failures), "seconds": round(time.monotonic() - started, 2)}

    async def storm(self, concurrency):
        """Drop every connection at once; all come back at once, `concurrency` at a
        time. Returns each one's outcome."""
        self.gate = asyncio.Semaphore(concurrency)
        present = [r for r in self.receivers if r.sock is not None
                   and r.sock.transport is not None and not r.sock.closed.is_set()]
        loop = asyncio.get_running_loop()
        for receiver in present:
            receiver.storm = loop.create_future()
        dropped_at = time.monotonic()
        for receiver in present:
            receiver.sock.drop()
        outcomes = await asyncio.gather(*(r.storm for r in present))
        for outcome in outcomes:
            outcome["dropped_at"] = dropped_at
        return outcomes

    async def _keep(self, receiver):
        """Resume the receiver's socket whenever its connection is lost."""
        sock = receiver.sock
        while True:
            await sock.closed.wait()
            if self.closing or sock.ended_by_server:
                return
            storm, lost_at = receiver.storm, time.monotonic()
            if storm is None:
                await asyncio.sleep(RECONNECT_S * random.uniform(0.5, 1.5))
            outcome = await self._resume(receiver, self.gate if storm else None)
            outcome.update(lost_at=lost_at, in_storm=storm is not None)
            receiver.comebacks.append(outcome)
            if storm is not None:
                receiver.storm = None
                storm.set_result(outcome)
            if outcome["error"]:
                return

    async def _resume(self, receiver, gate):
        sock, errors = receiver.sock, []
        before = {"sid": sock.sid, "pid": sock.pid, "offset_at_drop": sock.offset}
        async with gate or contextlib.nullcontext():
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
                "same_sid": error is None and sock.sid == before["sid"],
                "same_pid": error is None and sock.pid == before["pid"], "sid": sock.sid,
                "offset_at_drop": before["offset_at_drop"]}

    async def received(self):
        return sum(len(r.got) for r in self.receivers)

    async def frames(self):
        return totals([r.sock for r in self.receivers])

    async def collect(self):
        return [{"id": r.id, "got": r.got, "disorder": r.sock.disorder if r.sock else [],
                 "comebacks": r.comebacks, "early": r.sock.early if r.sock else 0}
                for r in self.receivers]

    async def close(self):
        self.closing = True
        await asyncio.gather(*(r.sock.close() for r in self.receivers if r.sock))
        for keeper in self.keepers:
            keeper.cancel()


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

"""The load-client processes of the churn scenario (bench.churn): idle sockets held by
the reconnect storm's receivers, grown in steps, and dropped a few a second, round
robin, each coming back at once with its `pid` and offset (connection state recovery)."""
import asyncio
import time

from bench.loadclient import connect_many
from bench.reconnect_clients import Receiver, ReceiverWorker, StormSocket

OUTCOME_TIMEOUT_S = 120.0  # a comeback retries RESUME_ATTEMPTS times, 60 s each at most


class ChurnWorker(ReceiverWorker):
    """Holds the first sockets of its accounts (`hold`), and churns them (`churn`)."""

    def __init__(self, spec):
        super().__init__(spec)
        self.receivers, self.keepers, self.turn = [], [], 0
        self.closing = False

    async def hold(self, count, concurrency=50):
        """Connect the accounts up to the `count`-th (those held already stay)."""
        accounts = self.spec["receivers"][len(self.receivers):count]
        self.gate = asyncio.Semaphore(concurrency)
        started = time.monotonic()
        sockets, failures = await connect_many(
            "127.0.0.1", self.spec["port"], [a["token"] for a in accounts],
            lambda i: {}, concurrency=concurrency, socket_class=StormSocket)
        for account, sock in zip(accounts, sockets, strict=True):
            receiver = Receiver(account["id"])
            receiver.sock = sock
            self.receivers.append(receiver)
            if sock is not None:
                self.keepers.append(asyncio.create_task(self._keep(receiver)))
        return {"connected": sum(s is not None for s in sockets), "held": self.held(),
                "failures": dict(failures), "seconds": round(time.monotonic() - started, 2)}

    def held(self):
        return sum(1 for r in self.receivers if live(r))

    async def churn(self, rate, seconds):
        """For `seconds`, drop `rate` held sockets a second (open loop, round robin, no
        close frame); each comes back at once. Returns every cycle's outcome once all
        came back, and the turns skipped (that socket was not connected)."""
        loop, scheduled, skipped = asyncio.get_running_loop(), [], 0
        start = time.monotonic()
        for n in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
            receiver = self.receivers[self.turn % len(self.receivers)]
            self.turn += 1
            if not live(receiver) or receiver.storm is not None:
                skipped += 1
                continue
            receiver.storm = loop.create_future()  # _keep: resume at once, report here
            dropped_at = time.monotonic()
            receiver.sock.drop()
            scheduled.append((dropped_at, receiver.storm))
        finished = time.monotonic()
        async with asyncio.timeout(OUTCOME_TIMEOUT_S):
            outcomes = await asyncio.gather(*(future for _, future in scheduled))
        for (dropped_at, _), outcome in zip(scheduled, outcomes, strict=True):
            outcome["reconnect_ms"] = None if outcome["error"] else round(
                1000 * (outcome["resumed_at"] - dropped_at), 2)
        return {"outcomes": outcomes, "skipped": skipped,
                "schedule_s": round(finished - start, 2),
                "all_back_s": round(time.monotonic() - start, 2),
                "server_closed": self.server_closed()}

    def server_closed(self):
        """Comebacks after the server closed a socket (not churned): none expected."""
        return sum(1 for r in self.receivers for c in r.comebacks if not c["in_storm"])


def live(receiver):
    sock = receiver.sock
    return sock is not None and sock.connected and not sock.closed.is_set()

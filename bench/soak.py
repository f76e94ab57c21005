"""Soak: CLIENTS connected clients chatting and riding for MINUTES against the realtime
service under gunicorn (production config) with Redis presence; `make soak`.

Most clients are users chatting in pairs (`POST /messages/send`, the receiver's
`newMessage` must arrive); the others are rider/captain pairs, each pair in its own
town (so a request is dispatched to its own captain only), looping through the whole
ride: request, `new-ride`, accept, `ride-confirmed`, location updates forwarded as
`captain-location`, start with the OTP, `ride-started`, end, `ride-ended`.

It holds when: no error (every HTTP status as expected, every push within 10 s, no
message lost, no ERROR line in the service log), the worker's memory at the end is
within 10 % of its memory after the warm-up, request latency does not drift (p99 of
the last quarter within 2x + 100 ms of the second quarter's), and after every client
disconnected no socket, presence entry or `socketId` is left behind. The result also
has a timeline: requests, latency and each process's CPU in 20 slices of the run.

    .venv/bin/python -m bench.soak [full|tiny] [--minutes M] [--clients N]
"""
import argparse
import asyncio
import json
import random
import re
import threading
import time
from collections import Counter

from bench import common
from bench import soak_checks as checks
from bench.loadclient import Fleet, Http, Worker, connect_many

SIZES = {
    "full": {"clients": 1000, "minutes": 10.0, "workers": 4, "ride_share": 0.2,
             "chat_per_s": 40, "ride_pause_s": (8.0, 16.0)},
    "tiny": {"clients": 20, "minutes": 0.15, "workers": 2, "ride_share": 0.4,
             "chat_per_s": 10, "ride_pause_s": (0.5, 1.0)},
}
TOWN_SPACING_DEG = 0.06  # ~6.7 km between towns: more than the 3 km dispatch radius
PUSH_TIMEOUT_S = 10.0
ID = re.compile(r"/[0-9a-f]{24}")


def town(n):
    base = common.PICKUP
    return {"lat": base["lat"] + n * TOWN_SPACING_DEG, "lng": base["lng"], "address": f"T{n}"}


class SoakWorker(Worker):
    """Holds its share of the clients and drives their chats and rides."""

    async def connect(self):
        self.seen = set()  # (client index, event, key)
        self.errors = []
        self.sent, self.received = set(), set()
        self.rides_done = 0
        self.latencies = []  # (seconds since the run started, ms, request kind, status)
        clients = self.spec["clients"]
        handlers = [self._handlers(i) for i in range(len(clients))]
        self.sockets, failures = await connect_many(
            "127.0.0.1", self.spec["port"], [c["token"] for c in clients],
            lambda i: handlers[i], concurrency=10)
        return {"connected": sum(s is not None for s in self.sockets),
                "failures": dict(failures)}

    def _handlers(self, i):
        def record(event, key_of):
            return lambda data, _at: self.seen.add((i, event, key_of(data)))

        def message(data, _at):
            self.received.add(data["_id"])

        ride_id = lambda data: data["_id"]  # noqa: E731
        return {"newMessage": message, "new-ride": record("new-ride", ride_id),
                "ride-confirmed": record("ride-confirmed", ride_id),
                "ride-started": record("ride-started", ride_id),
                "ride-ended": record("ride-ended", ride_id),
                "captain-location": record("captain-location", lambda d: d["rideId"])}

    async def run(self, seconds, started_at):
        self.started_at = started_at
        deadline = time.monotonic() + seconds
        tasks = [asyncio.create_task(self._chat(deadline))]
        tasks += [asyncio.create_task(self._ride_loop(pair, deadline))
                  for pair in self.spec["pairs"]]
        await asyncio.gather(*tasks)
        statuses = Counter(row[3] for row in self.latencies)
        return {"statuses": dict(statuses), "errors": self.errors[:20],
                "error_count": len(self.errors), "sent": len(self.sent),
                "rides": self.rides_done, "latencies": self.latencies}

    def _error(self, what):
        self.errors.append(what)

    async def _request(self, http, method, path, token, body=None, expect=200):
        sent_at = time.time()
        try:
            status, data = await http.request(method, path, body,
                                              {"Authorization": f"Bearer {token}"})
        except (ConnectionError, TimeoutError) as error:
            status, data = type(error).__name__, None
        self.latencies.append((round(sent_at - self.started_at, 2),
                               round(1000 * (time.time() - sent_at), 1),
                               f"{method} {ID.sub('/<id>', path)}", str(status)))
        if status != expect:
            self._error(f"{method} {path}: {status} {str(data)[:120]}")
            return None
        return data

    async def _chat(self, deadline):
        chatters = self.spec["chatters"]
        if len(chatters) < 2:
            return
        pool = [Http("127.0.0.1", self.spec["port"]) for _ in range(8)]
        interval = 1.0 / self.spec["chat_per_s"]
        rng, pending = random.Random(self.spec["seed"]), set()

        async def one(http, sender, receiver):
            data = await self._request(http, "POST", f"/messages/send/{receiver['id']}",
                                       sender["token"], {"text": "soak"}, expect=201)
            if data:
                self.sent.add(data["newMessage"]["_id"])
            pool.append(http)

        while time.monotonic() < deadline:
            a = rng.randrange(len(chatters) // 2) * 2
            sender, receiver = chatters[a], chatters[a + 1]
            if rng.random() < 0.5:
                sender, receiver = receiver, sender
            if pool:
                task = asyncio.create_task(one(pool.pop(), sender, receiver))
                pending.add(task)
                task.add_done_callback(pending.discard)
            await asyncio.sleep(interval)
        await asyncio.gather(*pending)
        for http in pool:
            http.close()

    async def _wait(self, index, event, key):
        limit = time.monotonic() + PUSH_TIMEOUT_S
        while (index, event, key) not in self.seen:
            if time.monotonic() > limit:
                self._error(f"no {event} for {key} within {PUSH_TIMEOUT_S}s")
                return False
            await asyncio.sleep(0.02)
        return True

    async def _ride_loop(self, pair, deadline):
        rider, captain = pair["rider"], pair["captain"]
        http = Http("127.0.0.1", self.spec["port"])
        rng = random.Random(pair["town"])
        place = town(pair["town"])
        destination = {**place, "lat": place["lat"] + 0.02, "address": "Destination"}
        try:
            while time.monotonic() < deadline:
                if not await self._one_ride(http, rider, captain, place, destination):
                    await asyncio.sleep(1.0)
                await asyncio.sleep(rng.uniform(*self.spec["ride_pause_s"]))
        finally:
            http.close()

    async def _one_ride(self, http, rider, captain, place, destination):
        created = await self._request(http, "POST", "/rides", rider["token"], {
            "pickup": place, "destination": destination, "vehicleType": "car"}, expect=201)
        if not created:
            return False
        ride = created["ride"]
        ride_id, otp = ride["_id"], ride["otp"]
        rides = f"/rides/{ride_id}"
        for step in (lambda: self._wait(captain["index"], "new-ride", ride_id),
                     lambda: self._request(http, "POST", f"{rides}/accept", captain["token"]),
                     lambda: self._wait(rider["index"], "ride-confirmed", ride_id)):
            if not await step():
                await self._abandon(http, rides, rider, captain)
                return False
        self.sockets[captain["index"]].emit("update-location-captain", {
            "location": {"lat": place["lat"], "lng": place["lng"]}})
        for step in (lambda: self._wait(rider["index"], "captain-location", ride_id),
                     lambda: self._request(http, "POST", f"{rides}/start", captain["token"],
                                           {"otp": otp}),
                     lambda: self._wait(rider["index"], "ride-started", ride_id),
                     lambda: self._request(http, "POST", f"{rides}/end", captain["token"]),
                     lambda: self._wait(rider["index"], "ride-ended", ride_id)):
            if not await step():
                await self._abandon(http, rides, rider, captain)
                return False
        self.rides_done += 1
        return True

    async def _abandon(self, http, rides, rider, captain):
        """After a failed step (already counted as an error): close the ride, whatever
        state it is in, so that the pair can go on riding."""
        for path, token in ((f"{rides}/cancel", rider["token"]),
                            (f"{rides}/end", captain["token"])):
            try:
                await http.request("POST", path, None, {"Authorization": f"Bearer {token}"})
            except (ConnectionError, TimeoutError):
                pass

    async def received_ids(self):
        return sorted(self.received)

    async def sent_ids(self):
        return sorted(self.sent)

    async def disconnect(self):
        for sock in filter(None, self.sockets):
            await sock.close()
        await asyncio.sleep(0.5)
        return sum(1 for s in self.sockets if s is not None)


def split(seq, parts):
    return [seq[i::parts] for i in range(parts)]


def run(size="full", out_dir=None, minutes=None, clients=None):
    cfg = dict(SIZES[size])
    cfg["minutes"] = minutes or cfg["minutes"]
    cfg["clients"] = clients or cfg["clients"]
    name = "soak" if size == "full" else f"soak-{size}"
    pairs_n = max(1, int(cfg["clients"] * cfg["ride_share"] / 2))
    chatters_n = cfg["clients"] - 2 * pairs_n
    with common.Stack(name, redis_server=True) as stack:
        users = stack.seed("user", chatters_n + pairs_n)
        captains = stack.seed("captain", pairs_n)
        for n, captain in enumerate(captains):  # each pair in its own town
            place = town(n)
            stack.db.captains.update_one({"_id": captain["_id"]}, {"$set": {"location": {
                "type": "Point", "coordinates": [place["lng"], place["lat"]]}}})
        # The simulated captains report positions during their rides only; a town's
        # rides are offered to its own captain only (no widening past the 3 km).
        service = stack.serve("realtime_service", PRESENCE_EVENTS="delta",
                              LOCATION_STALE_SECONDS=365 * 86400, DISPATCH_RADIUS_KM_MAX=3)
        user_tokens = common.tokens_for(users, "user")
        captain_tokens = common.tokens_for(captains, "captain")
        specs = _specs(cfg, service.port, users, user_tokens, captains, captain_tokens,
                       chatters_n, pairs_n)
        pids = {"worker": common.worker_pid(service), "database": stack.db_server.proc.pid,
                "redis": stack.servers.redis_proc.proc.pid}
        seconds = cfg["minutes"] * 60
        samples, stop = [], threading.Event()
        with Fleet("bench.soak:SoakWorker", specs) as fleet:
            connected = fleet.call("connect", timeout=300)
            pids.update({f"load{i}": proc.pid for i, proc in enumerate(fleet.procs)})
            sampler = threading.Thread(target=checks.sample_processes,
                                       args=(pids, samples, stop, max(1.0, seconds / 60)),
                                       daemon=True)
            started = time.monotonic()
            sampler.start()
            runs = fleet.call("run", seconds=seconds, started_at=time.time(),
                              timeout=seconds + 180)
            stop.set()
            time.sleep(2)  # drain the last pushes
            sent = {i for ids in fleet.call("sent_ids") for i in ids}
            received = {i for ids in fleet.call("received_ids") for i in ids}
            fleet.call("disconnect", timeout=120)
        leaks = checks.leaks_after(stack, service, users + captains)
        worker_rss = [(at, stats["worker"]["rss_mb"]) for at, stats in samples]
        memory = checks.memory_drift(worker_rss, started, seconds)
        log_errors = checks.log_errors(stack, service)
    latencies = [row for r in runs for row in r["latencies"]]
    result = {
        "size": size, "config": cfg, "pairs": pairs_n, "chatters": chatters_n,
        "connected": sum(c["connected"] for c in connected),
        "connect_failures": [c["failures"] for c in connected if c["failures"]],
        "statuses": dict(sum((Counter(r["statuses"]) for r in runs), Counter())),
        "errors": [e for r in runs for e in r["errors"]][:40],
        "error_count": sum(r["error_count"] for r in runs),
        "messages_acknowledged": len(sent), "messages_lost": len(sent - received),
        "rides_completed": sum(r["rides"] for r in runs),
        "memory": memory, "latency": checks.latency_drift(latencies, seconds),
        "leaks": leaks, "log_errors": log_errors,
        "timeline": checks.timeline(latencies, samples, started, seconds),
    }
    result["ok"] = (result["connected"] == cfg["clients"] and result["error_count"] == 0
                    and result["messages_lost"] == 0 and memory["flat"]
                    and result["latency"]["flat"]
                    and not any(leaks.values()) and not log_errors)
    common.write_result(name, result, out_dir)
    print(json.dumps({k: result[k] for k in ("connected", "statuses", "error_count",
                                               "messages_acknowledged", "messages_lost",
                                               "rides_completed", "memory", "latency", "leaks",
                                               "ok")}),
          flush=True)
    return result


def _specs(cfg, port, users, user_tokens, captains, captain_tokens, chatters_n, pairs_n):
    people = [{"id": str(u["_id"]), "token": t} for u, t in zip(users, user_tokens, strict=True)]
    drivers = [{"id": str(c["_id"]), "token": t}
               for c, t in zip(captains, captain_tokens, strict=True)]
    chat_parts = split(people[:chatters_n], cfg["workers"])
    pair_parts = split([(people[chatters_n + n], drivers[n], n) for n in range(pairs_n)],
                       cfg["workers"])
    specs = []
    for w in range(cfg["workers"]):
        clients = list(chat_parts[w])
        pairs = []
        for rider, captain, n in pair_parts[w]:
            clients += [rider, captain]
            pairs.append({"rider": {**rider, "index": len(clients) - 2},
                          "captain": {**captain, "index": len(clients) - 1}, "town": n})
        specs.append({"port": port, "clients": clients, "chatters": chat_parts[w],
                      "pairs": pairs, "seed": w, "chat_per_s": cfg["chat_per_s"] / cfg["workers"],
                      "ride_pause_s": cfg["ride_pause_s"]})
    return specs


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("size", nargs="?", default="full", choices=sorted(SIZES))
    parser.add_argument("--minutes", type=float)
    parser.add_argument("--clients", type=int)
    parser.add_argument("--out", help="results directory (default bench/results)")
    args = parser.parse_args()
    outcome = run(args.size, args.out, args.minutes, args.clients)
    raise SystemExit(0 if outcome["ok"] else 1)

"""Scenario 2: ride dispatch fan-out and the accept race.

CAPTAINS active car captains within 2 km of the pickup hold a websocket each
(DISPATCH_BATCH = DISPATCH_MAX = CAPTAINS, so the first offer round sends every one of
them every request). A rider
requests RIDES rides one after the other; for each, the time from sending
`POST /rides` to the first and to the last captain's `new-ride`. RACERS of the
captains (spread over the load-client processes) send `POST /rides/<id>/accept` as
soon as their `new-ride` arrives: the race time runs from the first accept sent to
the last answer, exactly one must win (200, the rest 409), and the rider's
`ride-confirmed` is timed from its request. The rider then cancels, freeing the
winner for the next ride.
"""
import asyncio
import statistics
import time

import requests

from bench import common
from bench.loadclient import Fleet, Http, Worker, connect_many, percentiles

SIZES = {
    "full": {"captains": 500, "rides": 20, "racers": 20, "workers": 2},
    "tiny": {"captains": 6, "rides": 2, "racers": 2, "workers": 2},
}


class DispatchWorker(Worker):
    """Captains (and, in worker 0, the rider): records `new-ride` arrivals and races."""

    async def connect(self):
        self.arrivals, self.races, self.confirmed, self.pending = {}, {}, {}, []
        port, captains = self.spec["port"], self.spec["captains"]
        self.http = {i: Http("127.0.0.1", port) for i in range(self.spec["racers"])}
        started = time.monotonic()
        sockets, failures = await connect_many(
            "127.0.0.1", port, [c["token"] for c in captains],
            lambda i: {"new-ride": lambda ride, at, i=i: self._new_ride(i, ride, at)})
        self.sockets = sockets
        if self.spec.get("rider"):
            rider, _ = await connect_many("127.0.0.1", port, [self.spec["rider"]["token"]],
                                          lambda _i: {"ride-confirmed": self._confirmed})
            self.sockets += rider
        return {"connected": sum(s is not None for s in self.sockets),
                "failures": dict(failures), "seconds": round(time.monotonic() - started, 2)}

    def _new_ride(self, i, ride, received_at):
        self.arrivals.setdefault(ride["_id"], []).append(received_at)
        if i in self.http:
            self.pending.append(asyncio.create_task(self._accept(i, ride["_id"])))

    def _confirmed(self, ride, received_at):
        self.confirmed[ride["_id"]] = received_at

    async def _accept(self, i, ride_id):
        sent = time.monotonic()
        status, _ = await self.http[i].request(
            "POST", f"/rides/{ride_id}/accept", None,
            {"Authorization": f"Bearer {self.spec['captains'][i]['token']}"})
        self.races.setdefault(ride_id, []).append((sent, time.monotonic(), status))

    async def results(self, ride_id):
        """Arrival times, race entries and the rider's confirmation of one ride."""
        if self.pending:
            await asyncio.wait_for(asyncio.gather(*self.pending), timeout=30)
            self.pending = []
        return {"arrivals": self.arrivals.pop(ride_id, []), "race": self.races.pop(ride_id, []),
                "confirmed": self.confirmed.pop(ride_id, None)}

    async def count(self, ride_id):
        return len(self.arrivals.get(ride_id, []))

    async def close(self):
        for http in self.http.values():
            http.close()
        for sock in self.sockets:
            if sock is not None:
                await sock.close()


def run(size="full", out_dir=None):
    cfg = SIZES[size]
    workers = cfg["workers"]
    with common.Stack("dispatch") as stack:
        # The captains never move: their seeded positions stay fresh for the whole run.
        service = stack.serve("realtime_service", DISPATCH_MAX=cfg["captains"],
                              DISPATCH_BATCH=cfg["captains"], LOCATION_STALE_SECONDS=3600)
        captain_docs = stack.seed("captain", cfg["captains"])
        captains = [{"id": str(d["_id"]), "token": t} for d, t in
                    zip(captain_docs, common.tokens_for(captain_docs, "captain"), strict=True)]
        rider_doc = stack.seed("user", 1)
        rider = {"id": str(rider_doc[0]["_id"]), "token": common.tokens_for(rider_doc, "user")[0]}
        specs = [{"port": service.port, "captains": captains[w::workers],
                  "racers": cfg["racers"] // workers, "rider": rider if w == 0 else None}
                 for w in range(workers)]
        meter = common.CpuMeter(server=common.worker_pid(service), db=stack.db_server.proc.pid)
        with Fleet("bench.dispatch:DispatchWorker", specs) as fleet:
            connected = fleet.call("connect", timeout=180)
            print(f"[dispatch] connected {sum(r['connected'] for r in connected)} sockets "
                  f"({cfg['captains']} captains + 1 rider)", flush=True)
            common.wait_idle([common.worker_pid(service)])
            meter.start()
            rides = [one_ride(fleet, service.url, rider, cfg["captains"], n)
                     for n in range(cfg["rides"])]
            usage = meter.read()
            fleet.call("close")
    last = [r["last_ms"] for r in rides if r["last_ms"] is not None]
    result = {
        "size": size, "config": cfg, "rides": rides, "cpu": usage,
        "load_client_cpu_s": list(fleet.cpu),
        "median_last_new_ride_ms": round(statistics.median(last), 1) if last else None,
        "median_first_new_ride_ms": _median(rides, "first_ms"),
        "median_post_ms": _median(rides, "post_ms"),
        "median_race_ms": _median(rides, "race_ms"),
        "median_confirmed_ms": _median(rides, "confirmed_ms"),
        "all_races_one_winner": all(r["winners"] == 1 for r in rides),
        "all_delivered": all(r["delivered"] == cfg["captains"] for r in rides),
    }
    common.write_result("dispatch", result, out_dir)
    print(f"[dispatch] {cfg['captains']} captains: last new-ride median "
          f"{result['median_last_new_ride_ms']} ms (first {result['median_first_new_ride_ms']}"
          f" ms), accept race median {result['median_race_ms']} ms, one winner every time: "
          f"{result['all_races_one_winner']}", flush=True)
    return result


def one_ride(fleet, url, rider, captains, n):
    headers = {"Authorization": f"Bearer {rider['token']}"}
    body = {"pickup": common.PICKUP, "destination": common.DESTINATION, "vehicleType": "car"}
    sent = time.monotonic()
    response = requests.post(f"{url}/rides", json=body, headers=headers, timeout=60)
    post_ms = (time.monotonic() - sent) * 1000
    response.raise_for_status()
    ride_id, dispatched = response.json()["ride"]["_id"], response.json()["dispatchedTo"]
    deadline = time.monotonic() + 30  # bounded wait for every captain's new-ride
    while time.monotonic() < deadline and sum(fleet.call("count", ride_id=ride_id)) < captains:
        time.sleep(0.02)
    time.sleep(0.2)  # the racers' answers
    parts = fleet.call("results", ride_id=ride_id, timeout=60)
    arrivals = sorted(t for p in parts for t in p["arrivals"])
    race = [entry for p in parts for entry in p["race"]]
    confirmed = next((p["confirmed"] for p in parts if p["confirmed"]), None)
    requests.post(f"{url}/rides/{ride_id}/cancel", headers=headers, timeout=30).raise_for_status()
    result = {
        "ride": n, "dispatchedTo": dispatched, "delivered": len(arrivals),
        "post_ms": round(post_ms, 1),
        "first_ms": round((arrivals[0] - sent) * 1000, 1) if arrivals else None,
        "last_ms": round((arrivals[-1] - sent) * 1000, 1) if arrivals else None,
        "race_ms": round((max(e[1] for e in race) - min(e[0] for e in race)) * 1000, 1)
        if race else None,
        "accept_ms": percentiles([(e[1] - e[0]) * 1000 for e in race]),
        "winners": sum(1 for e in race if e[2] == 200),
        "statuses": sorted({e[2] for e in race}),
        "confirmed_ms": round((confirmed - sent) * 1000, 1) if confirmed else None,
    }
    print(f"[dispatch] ride {n}: {dispatched} dispatched, {len(arrivals)} delivered, last "
          f"{result['last_ms']} ms, race {result['race_ms']} ms, winners {result['winners']}",
          flush=True)
    return result


def _median(rides, key):
    values = [r[key] for r in rides if r[key] is not None]
    return round(statistics.median(values), 1) if values else None


if __name__ == "__main__":
    import sys

    run(sys.argv[1] if len(sys.argv) > 1 else "full")

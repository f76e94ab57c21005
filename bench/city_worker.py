"""The load-client side of scenario 10 (bench.city): a share of the city's captains,
each reporting its position with an acknowledgement, round-robin at the step's rate
(open loop: a send is never held back by a late acknowledgement); the riders of rides
in progress, recording every `captain-location`; and, in worker 0, ride requests at a
steady rate, each cancelled a little later. Every time is time.monotonic(), the same
clock in every process of the machine, so the scenario joins sends and arrivals
across workers."""
import asyncio
import math
import random
import time
from collections import Counter

from bench.loadclient import Http, Worker, connect_many, percentiles

LOCATION = "update-location-captain"
TICK_S = 0.004  # the send loop's granularity
RIDING_EVERY_S = 1.0  # a captain with a ride in progress reports this often
ACK_GRACE_S = 10.0  # how long a step waits for its last acknowledgements
CANCEL_AFTER_S = 2.0  # a requested ride is cancelled this long after its request


def point_near(center, radius_km, rng):
    """(lat, lng) uniformly within `radius_km` of `center`."""
    distance, bearing = radius_km * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
    lat = center["lat"] + distance / 111.2 * math.cos(bearing)
    lng = center["lng"] + distance / (111.2 * math.cos(math.radians(center["lat"]))) * \
        math.sin(bearing)
    return round(lat, 6), round(lng, 6)


class CityWorker(Worker):
    """Captains and riders of one load-client process (see the module docstring)."""

    async def connect(self):
        spec, self.rng = self.spec, random.Random(self.spec["seed"])
        self.offers, self.requests, self.cancels = {}, [], []
        self.riding, self.cursor = {}, 0
        self.sent_moves, self.seen_moves = {}, {}
        started = time.monotonic()
        self.captains, failures = await connect_many(
            "127.0.0.1", spec["port"], [c["token"] for c in spec["captains"]],
            lambda _i: {"new-ride": self._offered}, concurrency=spec["concurrency"])
        riders, rider_failures = await connect_many(
            "127.0.0.1", spec["port"], [r["token"] for r in spec["riders"]],
            lambda _i: {"captain-location": self._moved})
        self.riders = riders
        self.positions = [(c["lat"], c["lng"]) for c in spec["captains"]]
        self.order = [i for i, s in enumerate(self.captains) if s is not None]
        self.rng.shuffle(self.order)
        self.http = Http("127.0.0.1", spec["port"])
        return {"captains": len(self.order), "riders": sum(r is not None for r in riders),
                "failures": dict(failures + rider_failures),
                "seconds": round(time.monotonic() - started, 2)}

    def _offered(self, ride, received_at):
        self.offers.setdefault(ride["_id"], received_at)

    def _moved(self, payload, received_at):
        location = payload["location"]
        self.seen_moves[(payload["rideId"], location["lat"], location["lng"])] = received_at

    async def set_riding(self, rides):
        """`rides`: {captain id: ride id} of the rides in progress (those of our captains
        are recorded as they are sent)."""
        mine = {c["id"]: i for i, c in enumerate(self.spec["captains"])}
        self.riding = {mine[c]: r for c, r in rides.items() if c in mine}
        self.order = [i for i in self.order if i not in self.riding]
        return len(self.riding)

    async def step(self, rate, seconds, requests_every=None):
        """Send `rate` updates per second for `seconds` (each captain of ours reports
        every len(captains) / rate seconds; those with a ride in progress every
        RIDING_EVERY_S on top), ride requests every `requests_every` s."""
        acks, errors, sent = [], Counter(), 0
        total, started = int(rate * seconds), time.monotonic()
        requester = (asyncio.create_task(self._request_loop(seconds, requests_every))
                     if requests_every and self.spec["requesters"] else None)
        last_ack = [started]
        riding = asyncio.create_task(self._riding_loop(seconds, acks, errors, last_ack))
        while sent < total and self.order:
            due = min(total, int((time.monotonic() - started) * rate) + 1)
            while sent < due:
                self._report(self.order[self.cursor % len(self.order)], acks, errors, last_ack)
                self.cursor += 1
                sent += 1
            await asyncio.sleep(TICK_S)
        sent += await riding
        send_s = time.monotonic() - started
        deadline = time.monotonic() + ACK_GRACE_S
        while len(acks) + sum(errors.values()) < sent and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        if requester is not None:
            await requester
        answered = len(acks) + sum(errors.values())
        return {"sent": sent, "acked": len(acks), "errors": dict(errors),
                "lost": sent - answered, "send_s": round(send_s, 2),
                "ack_s": round(last_ack[0] - started, 2), "ack_ms": percentiles(acks)}

    def _report(self, i, acks, errors, last_ack):
        lat, lng = self.positions[i]
        lat, lng = round(lat + self.rng.uniform(-2e-4, 2e-4), 6), \
            round(lng + self.rng.uniform(-2e-4, 2e-4), 6)
        self.positions[i] = (lat, lng)
        sent_at = time.monotonic()

        def answered(answer, received_at):
            last_ack[0] = received_at
            if isinstance(answer, dict) and answer.get("ok"):
                acks.append((received_at - sent_at) * 1000)
            else:
                errors[str((answer or {}).get("message", answer))] += 1

        self.captains[i].emit_with_ack(LOCATION, {"location": {"lat": lat, "lng": lng}},
                                       answered)
        ride = self.riding.get(i)
        if ride is not None:
            self.sent_moves[(ride, lat, lng)] = sent_at

    async def _riding_loop(self, seconds, acks, errors, last_ack):
        """The captains with a ride in progress, each every RIDING_EVERY_S; how many
        updates were sent."""
        captains, sent, started = list(self.riding), 0, time.monotonic()
        while captains and time.monotonic() - started < seconds:
            for i in captains:
                self._report(i, acks, errors, last_ack)
                sent += 1
                await asyncio.sleep(RIDING_EVERY_S / len(captains))
        return sent

    async def _request_loop(self, seconds, every):
        """One ride request every `every` seconds from the next requester, cancelled
        CANCEL_AFTER_S later."""
        requesters, started, n = self.spec["requesters"], time.monotonic(), 0
        while time.monotonic() - started < seconds:
            rider = requesters[len(self.requests) % len(requesters)]
            await self._request(rider)
            n += 1
            await asyncio.sleep(max(0.0, started + n * every - time.monotonic()))

    async def _request(self, rider):
        lat, lng = point_near(self.spec["center"], self.spec["spread_km"] / 2, self.rng)
        body = {"pickup": {"lat": lat, "lng": lng, "address": "bench"},
                "destination": self.spec["destination"], "vehicleType": "car"}
        headers = {"Authorization": f"Bearer {rider['token']}"}
        sent_at = time.monotonic()
        try:
            status, answer = await self.http.request("POST", "/rides", body, headers)
        except (TimeoutError, ConnectionError) as error:  # a saturated server
            status, answer = type(error).__name__, None
        ride_id = answer["ride"]["_id"] if status == 201 else None
        self.requests.append({"ride": ride_id, "sent": sent_at, "status": status,
                              "post_ms": (time.monotonic() - sent_at) * 1000,
                              "dispatched": (answer or {}).get("dispatchedTo")})
        if ride_id:
            self.cancels.append(asyncio.create_task(self._cancel(ride_id, headers)))

    async def _cancel(self, ride_id, headers):
        await asyncio.sleep(CANCEL_AFTER_S)
        http = Http("127.0.0.1", self.spec["port"])
        try:
            await http.request("POST", f"/rides/{ride_id}/cancel", None, headers)
        except (TimeoutError, ConnectionError):
            pass  # the rider's next request answers 409 (counted with its status)
        finally:
            http.close()

    async def collect(self):
        """What this worker saw since the last call: moves sent and seen, requests; and
        every first new-ride arrival so far."""
        if self.cancels:
            await asyncio.gather(*self.cancels)
            self.cancels = []
        result = {"sent_moves": [[*k, t] for k, t in self.sent_moves.items()],
                  "seen_moves": [[*k, t] for k, t in self.seen_moves.items()],
                  "offers": self.offers, "requests": self.requests}
        self.sent_moves, self.seen_moves, self.requests = {}, {}, []
        return result  # the offers are kept: a late new-ride still finds its request

    async def close(self):
        self.http.close()
        for sock in self.captains + self.riders:
            if sock is not None:
                await sock.close()

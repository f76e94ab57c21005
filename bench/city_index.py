"""The live captain index's nearest-captains query alone, for scenario 10 (bench.city):
the scenario's captains in a MemoryIndex and in a RedisIndex, timed query by query.
`python -m bench.city micro` runs it with a redis-server of its own."""
import gc
import logging
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from bench.city_worker import point_near
from bench.common import PICKUP as CENTER
from bench.loadclient import percentiles
from tests.harness import RedisServer


def index_microbench(cfg, redis_url, queries=2000):
    """The nearest-captains query of the live index alone over the scenario's captains
    (None in a tree without it): ms per query, memory and Redis."""
    try:
        from realtime_service.rides.captain_index import RedisIndex
        from realtime_service.rides.cell_index import MemoryIndex
    except ImportError:
        return None
    rng, now = random.Random(9), time.time()
    points = [point_near(CENTER, cfg["spread_km"], rng) for _ in range(cfg["captains"])]
    pickups = [point_near(CENTER, cfg["spread_km"] / 2, rng) for _ in range(queries)]
    stores = {"memory": MemoryIndex(60.0)}
    if redis_url:
        stores["redis"] = RedisIndex(redis_url, 60.0, logging.getLogger("bench"),
                                     prefix="bench:micro")
    result = {}
    for kind, store in stores.items():
        for n, (lat, lng) in enumerate(points):
            store.update(f"{n:024x}", "car", lat, lng, now)
        times = []
        gc.collect()  # not one in the middle of the timed queries
        for lat, lng in pickups:
            started = time.perf_counter()
            store.nearest(lat, lng, 3.0, "car", 3, frozenset(), now)
            times.append((time.perf_counter() - started) * 1000)
        result[kind] = {**percentiles(times, (50, 90, 99)),
                        "mean": round(statistics.fmean(times), 4)}
    return result


def micro_only(cfg):
    """`python -m bench.city micro`: the index's query alone, with a redis-server of its
    own (no services, no load clients)."""
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp)).start()
        try:
            result = index_microbench(cfg, server.url)
        finally:
            server.stop()
    print({"nearest_query_ms": result, "loadavg": os.getloadavg()}, flush=True)
    return result

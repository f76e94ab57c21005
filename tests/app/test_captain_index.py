"""The live captain index alone (realtime_service.rides.captain_index): the same rules in
memory and in a real Redis (nearest first, radius, vehicle type, staleness, open
rides, exclusions, removal), the cell search against a scan of every captain, and a
Redis that goes away and comes back (the fallback, logged once each way)."""
import logging
import math
import random

import pytest
import redis

from realtime_service.rides.captain_index import RedisIndex
from realtime_service.rides.cell_index import KM_PER_DEGREE, MemoryIndex
from tests.harness import RedisServer

from ..rides_support import PICKUP, east_of, north_of

STALE = 60.0
NOW = 1_000_000.0
LAT, LNG = PICKUP["lat"], PICKUP["lng"]
LOG = logging.getLogger("test_captain_index")


@pytest.fixture
def redis_index(redis_url):
    prefix = f"test:{random.getrandbits(64):x}"
    index = RedisIndex(redis_url, STALE, LOG, prefix=prefix)
    yield index
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(params=["memory", "redis"])
def index(request):
    if request.param == "memory":
        return MemoryIndex(STALE)
    return request.getfixturevalue("redis_index")


def place(index, captain_id, at, vehicle_type="car", seen=NOW):
    lat, lng = at
    return index.update(captain_id, vehicle_type, lat, lng, seen)


def nearest(index, limit=10, radius_km=3.0, vehicle_type="car", exclude=frozenset(), now=NOW):
    return index.nearest(LAT, LNG, radius_km, vehicle_type, limit, exclude, now)


def test_nearest_first_within_the_radius_and_of_the_vehicle_type(index):
    place(index, "far", north_of(PICKUP, 2.5))
    place(index, "near", east_of(PICKUP, 0.4))
    place(index, "nearest", north_of(PICKUP, 0.1))
    place(index, "middle", north_of(PICKUP, 1.2))
    place(index, "outside", north_of(PICKUP, 3.2))
    place(index, "moto", north_of(PICKUP, 0.05), vehicle_type="motorcycle")
    assert nearest(index) == ["nearest", "near", "middle", "far"]
    assert nearest(index, limit=2) == ["nearest", "near"]
    assert nearest(index, radius_km=1.0) == ["nearest", "near"]
    assert nearest(index, vehicle_type="motorcycle") == ["moto"]
    assert nearest(index, vehicle_type="auto") == []


def test_exclude_skips_captains_and_the_next_ones_fill_in(index):
    for n, km in enumerate((0.1, 0.2, 0.3, 0.4)):
        place(index, f"c{n}", north_of(PICKUP, km))
    assert nearest(index, limit=2, exclude={"c0", "c2"}) == ["c1", "c3"]


def test_a_silent_captain_is_stale_until_it_reports_again(index):
    place(index, "silent", north_of(PICKUP, 0.1), seen=NOW - STALE - 1)
    place(index, "recent", north_of(PICKUP, 0.5), seen=NOW - STALE + 1)
    assert nearest(index) == ["recent"]
    place(index, "silent", north_of(PICKUP, 0.2), seen=NOW)
    assert nearest(index) == ["silent", "recent"]


def test_moves_change_the_order_and_removal_takes_a_captain_out(index):
    place(index, "a", north_of(PICKUP, 0.2))
    place(index, "b", north_of(PICKUP, 0.6))
    place(index, "a", north_of(PICKUP, 1.5))  # moved to another cell
    assert nearest(index) == ["b", "a"]
    index.remove("b", "car")
    assert nearest(index) == ["a"]
    assert index.position("b") is None
    index.add("b", "motorcycle", *north_of(PICKUP, 0.1), NOW)  # back on another vehicle
    assert nearest(index) == ["a"]
    assert nearest(index, vehicle_type="motorcycle") == ["b"]


def test_a_connection_does_not_move_a_captain_back_to_its_stored_position(index):
    place(index, "a", north_of(PICKUP, 0.2), seen=NOW)
    index.add("a", "car", *north_of(PICKUP, 2.0), NOW - 20)  # a second tab, a recovery
    assert index.positions(["a"])["a"] == pytest.approx(north_of(PICKUP, 0.2), abs=1e-5)
    index.add("a", "car", None, None, None)  # connected with no stored position
    assert nearest(index) == ["a"]
    index.add("a", "car", *north_of(PICKUP, 0.1), NOW + 5)  # stored later than reported
    assert index.positions(["a"])["a"] == pytest.approx(north_of(PICKUP, 0.1), abs=1e-5)


def test_positions_of_the_indexed_captains(index):
    place(index, "car", (12.97, 77.59))
    place(index, "moto", (12.98, 77.6), vehicle_type="motorcycle")
    found = index.positions(["car", "moto", "unknown"])
    assert set(found) == {"car", "moto"}
    for captain_id, expected in (("car", (12.97, 77.59)), ("moto", (12.98, 77.6))):
        assert found[captain_id] == pytest.approx(expected, abs=1e-5)  # GEO: ~0.6 m


def test_captains_with_an_open_ride_are_not_offered_and_their_rider_is_named(index):
    place(index, "busy", north_of(PICKUP, 0.1))
    place(index, "free", north_of(PICKUP, 0.3))
    index.set_ride("busy", ("ride1", "rider1"))
    assert nearest(index) == ["free"]
    assert place(index, "busy", north_of(PICKUP, 0.15)) == ("ride1", "rider1")
    assert place(index, "free", north_of(PICKUP, 0.3)) is None
    index.set_ride("busy", None)
    assert nearest(index) == ["busy", "free"]


def test_loading_the_open_rides_keeps_what_changed_meanwhile(index):
    index.set_ride("ended", ("old", "rider0"))
    index.begin_loading()
    index.set_ride("accepted-meanwhile", ("r2", "rider2"))
    index.set_ride("ended-meanwhile", None)
    index.load_rides({"kept": ("r1", "rider1"), "ended-meanwhile": ("r3", "rider3")})
    assert index.ride_of("kept") == ("r1", "rider1")
    assert index.ride_of("accepted-meanwhile") == ("r2", "rider2")
    assert index.ride_of("ended-meanwhile") is None
    assert index.ride_of("ended") is None
    assert not index.rides_need_loading()


@pytest.mark.parametrize("captains", [3000, 200])  # searched by cells / scanned
def test_the_cell_search_finds_what_a_scan_of_every_captain_finds(captains):
    index, rng = MemoryIndex(STALE), random.Random(29)
    points = {}
    for n in range(captains):
        lat, lng = LAT + rng.uniform(-0.12, 0.12), LNG + rng.uniform(-0.12, 0.12)
        points[f"c{n}"] = (lat, lng)
        index.update(f"c{n}", "car", lat, lng, NOW if n % 7 else NOW - STALE - 1)
    for _ in range(50):
        lat, lng = LAT + rng.uniform(-0.1, 0.1), LNG + rng.uniform(-0.1, 0.1)
        radius, limit = rng.choice((0.3, 1.0, 3.0, 6.0)), rng.choice((1, 3, 20))
        kx = KM_PER_DEGREE * math.cos(math.radians(lat))
        scanned = sorted(
            (math.hypot((p[1] - lng) * kx, (p[0] - lat) * KM_PER_DEGREE), captain_id)
            for n, (captain_id, p) in enumerate(points.items()) if n % 7)
        expected = [c for d, c in scanned if d <= radius][:limit]
        assert index.nearest(lat, lng, radius, "car", limit, frozenset(), NOW) == expected


def test_redis_sweep_drops_entries_a_crashed_process_left(redis_index):
    place(redis_index, "gone", north_of(PICKUP, 0.1), seen=NOW - STALE - 5)
    place(redis_index, "here", north_of(PICKUP, 0.2), seen=NOW)
    assert redis_index.sweep(now=NOW) == 1
    assert redis_index.redis.zrange(redis_index.geo_key("car"), 0, -1) == ["here"]
    assert redis_index.redis.zrange(redis_index.seen_key, 0, -1) == ["here"]


def test_processes_share_positions_and_rides_through_redis(redis_url, redis_index):
    other = RedisIndex(redis_url, STALE, LOG, prefix=redis_index.prefix)
    place(redis_index, "here", north_of(PICKUP, 0.2))
    assert nearest(other) == ["here"]
    other.set_ride("here", ("ride1", "rider1"))
    assert place(redis_index, "here", north_of(PICKUP, 0.2)) == ("ride1", "rider1")
    assert nearest(redis_index) == []


def test_redis_going_away_falls_back_to_this_process_and_logs_once(tmp_path, caplog):
    server = RedisServer(tmp_path).start()
    index = RedisIndex(server.url, STALE, LOG, prefix="fallback")
    try:
        place(index, "mine", north_of(PICKUP, 0.2))
        index.set_ride("riding", ("ride1", "rider1"))
        assert index.rides_need_loading()  # a fresh Redis: never loaded
        index.load_rides({"riding": ("ride1", "rider1")})
        server.kill()
        with caplog.at_level(logging.WARNING, logger=LOG.name):
            assert place(index, "riding", north_of(PICKUP, 0.3)) == ("ride1", "rider1")
            place(index, "mine", north_of(PICKUP, 0.1))
            assert nearest(index) == ["mine"]
            index.remove("gone", "car")
            assert index.sweep(now=NOW) == 0
        warnings = [r.getMessage() for r in caplog.records if "Redis" in r.getMessage()]
        assert len(warnings) == 1 and "unavailable" in warnings[0]
        assert not index.available

        server.start()
        index.down_until = 0.0  # due for its next try now rather than after RETRY_SECONDS
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger=LOG.name):
            place(index, "mine", north_of(PICKUP, 0.1))
        assert [r.getMessage() for r in caplog.records] == ["captain index: Redis is back"]
        assert index.available and index.rides_need_loading()  # Redis lost its data
        assert nearest(index) == ["mine"]
    finally:
        server.stop()

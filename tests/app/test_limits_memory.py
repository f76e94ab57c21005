"""The rate limits' memory storage (shared/limits_memory.py) counts as the limits
library's own `memory://` storage does, hit for hit, and forgets the keys whose window
has passed, without a scan of the others."""
import random
import time

import pytest
from limits import RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from shared.limits_memory import SCHEME, SweptMemoryStorage


@pytest.fixture
def clock(monkeypatch):
    """time.time() as a list to move by hand (both storages read it)."""
    now = [1_000_000.0]
    monkeypatch.setattr(time, "time", lambda: now[0])
    return now


def test_hits_and_windows_match_the_librarys_memory_storage(clock):
    ours = MovingWindowRateLimiter(storage_from_string(f"{SCHEME}://"))
    theirs_storage = MemoryStorage()
    theirs = MovingWindowRateLimiter(theirs_storage)
    items = [RateLimitItemPerSecond(3), RateLimitItemPerSecond(5, 2), RateLimitItemPerMinute(10)]
    rng = random.Random(3)
    try:
        for _ in range(3000):
            clock[0] += rng.choice([0.0, 0.01, 0.2, 0.7, 3.0])
            item, key = rng.choice(items), f"account:{rng.randrange(5)}"
            cost = rng.choice([1, 1, 1, 2])
            assert ours.hit(item, key, cost=cost) == theirs.hit(item, key, cost=cost)
            mine, library = ours.get_window_stats(item, key), theirs.get_window_stats(item, key)
            assert mine.remaining == library.remaining
            if mine.remaining < item.amount:  # no hit in the window: no start to compare
                assert mine.reset_time == library.reset_time
    finally:
        theirs_storage.timer.cancel()


def test_idle_keys_are_forgotten_and_busy_ones_kept(clock):
    storage = SweptMemoryStorage()
    limiter = MovingWindowRateLimiter(storage)
    minute = RateLimitItemPerMinute(100)
    for n in range(1000):
        assert limiter.hit(minute, f"account:{n}")
    clock[0] += 30
    assert limiter.hit(minute, "account:7")  # hit again: its window starts later
    clock[0] += 31  # the first hits' window has passed
    assert limiter.hit(minute, "account:new")
    assert set(storage.windows) == {minute.key_for("account:7"), minute.key_for("account:new")}
    assert storage.get_moving_window(minute.key_for("account:7"), 100, 60)[1] == 1
    clock[0] += 61
    limiter.hit(minute, "account:last")
    assert set(storage.windows) == {minute.key_for("account:last")}
    assert sum(map(len, storage.idle_at.values())) <= 2


def test_refused_hits_are_not_counted_and_reads_store_nothing(clock):
    storage = SweptMemoryStorage()
    limiter = MovingWindowRateLimiter(storage)
    second = RateLimitItemPerSecond(2)
    assert [limiter.hit(second, "k") for _ in range(4)] == [True, True, False, False]
    clock[0] += 1.01
    assert limiter.hit(second, "k")
    assert limiter.get_window_stats(second, "never-hit").remaining == 2
    assert set(storage.windows) == {second.key_for("k")}


def test_fixed_window_counters_expire(clock):
    storage = SweptMemoryStorage()
    assert [storage.incr("c", 10) for _ in range(3)] == [1, 2, 3]
    assert storage.get("c") == 3 and storage.get_expiry("c") == clock[0] + 10
    clock[0] += 11
    assert storage.get("c") == 0 and storage.incr("c", 10) == 1
    clock[0] += 12
    storage.incr("other", 10)
    assert set(storage.counters) == {"other"}
    assert storage.reset() == 1 and storage.check()


def test_the_apps_use_it_without_redis(make_realtime_app, make_auth_app):
    from shared.extensions import limiter

    for make_app in (make_realtime_app, make_auth_app):
        app = make_app(RATELIMIT_ENABLED=True)
        assert app.config["RATELIMIT_STORAGE_URI"] == f"{SCHEME}://"
        with app.app_context():
            assert isinstance(limiter.limiter.storage, SweptMemoryStorage)

"""The rate limits' storage in one process's memory (without REDIS_URL): the limits
library's moving window, registered as `ridewire-memory://` (a Storage subclass with
its own STORAGE_SCHEME is limits' way to add one).

limits' own `memory://` storage drops old hits by scanning every key it holds, on a
timer re-armed a hundred times a second while hits come in; every socket event counts
against its account, so with thousands of accounts active that scan took most of the
realtime worker (BENCHMARKS.md, "Rate limits in memory"). Here a key's old hits are
dropped when the key is hit or read, and a key idle past its window is forgotten from
a per-second bucket, looking at the due buckets only.
"""
import heapq
import threading
import time
from collections import deque

from limits.storage import MovingWindowSupport, Storage

SCHEME = "ridewire-memory"


class SweptMemoryStorage(Storage, MovingWindowSupport):
    """Moving windows (a deque of hit times per key, oldest first) and fixed-window
    counters (`incr`), each key forgotten once its window has passed without a hit."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri=None, wrap_exceptions=False, **options):
        self.windows = {}  # key -> deque of hit times
        self.counters = {}  # key -> [count, expiry time]
        self.idle_at = {}  # whole second -> {key: its last hit then} that may be idle by then
        self.seconds = []  # heap of idle_at's seconds
        self.lock = threading.Lock()
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self):
        return ValueError

    def acquire_entry(self, key, limit, expiry, amount=1):
        """Record `amount` hits of `key` unless that would make more than `limit` within
        the last `expiry` seconds."""
        with self.lock:
            now = time.time()
            window = self._window(key, expiry, now)
            if len(window) + amount > limit:
                return False
            window.extend([now] * amount)
            self._forget_after(key, now + expiry, now)
            return True

    def get_moving_window(self, key, limit, expiry):
        """(the oldest hit within the window, or now; the hits within it)."""
        with self.lock:
            now = time.time()
            window = self._window(key, expiry, now) if key in self.windows else ()
            return (window[0] if window else now), len(window)

    def incr(self, key, expiry, amount=1):
        with self.lock:
            now = time.time()
            self._sweep(now)
            counter = self.counters.get(key)
            if counter is None or counter[1] <= now:
                counter = self.counters[key] = [0, now + expiry]
                self._forget_after(key, counter[1], None)
            counter[0] += amount
            return counter[0]

    def get(self, key):
        counter = self.counters.get(key)
        return counter[0] if counter and counter[1] > time.time() else 0

    def get_expiry(self, key):
        counter = self.counters.get(key)
        return counter[1] if counter else time.time()

    def check(self):
        return True

    def reset(self):
        with self.lock:
            count = len(self.windows) + len(self.counters)
            self.windows.clear()
            self.counters.clear()
            self.idle_at.clear()
            self.seconds.clear()
            return count

    def clear(self, key):
        with self.lock:
            self.windows.pop(key, None)
            self.counters.pop(key, None)

    def _window(self, key, expiry, now):
        """The key's hits within the last `expiry` seconds (older ones dropped)."""
        self._sweep(now)
        window = self.windows.setdefault(key, deque())
        while window and window[0] <= now - expiry:
            window.popleft()
        return window

    def _forget_after(self, key, moment, last_hit):
        """Look at `key` again after `moment`: forget it if `last_hit` is still its
        last (a window) or its counter has expired."""
        second = int(moment) + 1
        if second not in self.idle_at:
            self.idle_at[second] = {}
            heapq.heappush(self.seconds, second)
        self.idle_at[second][key] = last_hit

    def _sweep(self, now):
        """Forget the keys of the due buckets that had no hit since."""
        while self.seconds and self.seconds[0] <= now:
            for key, last_hit in self.idle_at.pop(heapq.heappop(self.seconds)).items():
                window = self.windows.get(key)
                if last_hit is not None and window is not None and (
                        not window or window[-1] <= last_hit):
                    del self.windows[key]
                counter = self.counters.get(key)
                if last_hit is None and counter is not None and counter[1] <= now:
                    del self.counters[key]

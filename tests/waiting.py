"""Polls with deadlines, in place of fixed sleeps: a test waits as long as the condition
takes and fails with a message when it never holds."""
import time


def wait_until(check, timeout=5.0, what="the condition", interval=0.05):
    """Return `check()`'s first true value; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(interval)


def holds_for(check, seconds, interval=0.05):
    """Whether `check()` stays true for `seconds` (a negative check: nothing happens)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not check():
            return False
        time.sleep(interval)
    return bool(check())

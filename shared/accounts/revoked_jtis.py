"""This process's copy of the token blacklist, so that checking a token costs no query.

The copy holds every blacklisted `jti` (any reason) until its token expires. It is
read in full once, then brought up to date at most every REVOCATION_POLL_SECONDS by
the first token check that finds it older (one indexed query per interval, however
many requests); this process's own revocations are in it at once. So a token revoked
in one process is refused by every process within REVOCATION_POLL_SECONDS, and by
the revoking one at once. Kept per app (`app.extensions`), fed by
shared.accounts.blacklist.
"""
import time
from datetime import timedelta

# Entries stamped this long before the previous read are read again: covers clock
# skew between processes and a write that lands while a read runs.
OVERLAP = timedelta(seconds=5)
PRUNE_SECONDS = 60.0


class RevokedJtis:
    def __init__(self, poll_seconds):
        self.poll_seconds = poll_seconds
        self.expiries = {}  # jti -> expiry, seconds since the epoch
        self.since = None  # the database time of the last read's start (None: never read)
        self.read_at = float("-inf")  # time.monotonic() of the last read
        self.pruned_at = time.monotonic()

    def stale(self):
        return time.monotonic() - self.read_at >= self.poll_seconds

    def cutoff(self):
        """What the next read asks for: entries stamped after this (None: all live ones)."""
        return None if self.since is None else self.since - OVERLAP

    def read(self, entries, started):
        """Take in `(jti, expiry)` pairs read from the database by a read that began at
        database-clock time `started` (a datetime)."""
        for jti, expires_at in entries:
            self.add(jti, expires_at)
        self.since, self.read_at = started, time.monotonic()
        self._prune()

    def add(self, jti, expires_at):
        self.expiries[jti] = expires_at.timestamp()

    def __contains__(self, jti):
        return jti in self.expiries

    def _prune(self):
        if time.monotonic() - self.pruned_at < PRUNE_SECONDS:
            return
        self.pruned_at, now = time.monotonic(), time.time()
        self.expiries = {jti: exp for jti, exp in self.expiries.items() if exp > now}

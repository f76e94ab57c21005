"""This process's copy of what revokes tokens, the one feed that both the token check
and the realtime service's socket watcher read.

A token is revoked by its `jti` in the blacklist (`reason` revoked, or retired by a
refresh: refused over HTTP, while a socket it opened lives on with its session
family) or by its account's `tokenVersion` bump (logout everywhere, password change).
The feed reads the whole live blacklist once, then what was stamped since its previous
read, at most every REVOCATION_POLL_SECONDS (one indexed query per interval, however
many requests); this process's own revocations are in it at once. So a token revoked
in one process is refused by every process within REVOCATION_POLL_SECONDS, and by the
revoking one at once. Token versions are read only once a socket watcher asks for
them: the token check reads the account's version with the account itself.
"""
import time
from datetime import UTC, datetime, timedelta

from flask import current_app

from shared.accounts import accounts, blacklist

# Entries stamped this long before the previous read are read again: covers clock
# skew between processes and a write that lands while a read runs.
OVERLAP = timedelta(seconds=5)
PRUNE_SECONDS = 60.0


class RevocationFeed:
    def __init__(self, poll_seconds):
        self.poll_seconds = poll_seconds
        self.jtis = {}  # jti -> (expiry in seconds since the epoch, whether it ends sockets)
        self.versions = None  # account id (str) -> tokenVersion bumped since watched
        self.changed = None  # (jtis, account ids) read since the socket watcher took them
        self.since = None  # the database time of the last read's start (None: never read)
        self.read_at = float("-inf")  # time.monotonic() of the last read
        self.pruned_at = time.monotonic()

    def watch_versions(self):
        """Read token version bumps from now on (the socket watcher's sockets carry
        the version of their token), and keep what changed for `take_changes`."""
        if self.versions is None:
            self.versions, self.versions_since = {}, datetime.now(UTC)
            self.changed = (set(), set())

    def take_changes(self):
        """`(jtis, account ids)` added or bumped since the previous call: the only
        tokens whose sockets may have to end since then (expiry aside)."""
        changed, self.changed = self.changed, (set(), set())
        return changed

    def stale(self):
        return time.monotonic() - self.read_at >= self.poll_seconds

    def refresh(self):
        """Read what was stamped since the previous read."""
        started = datetime.now(UTC)
        cutoff = None if self.since is None else self.since - OVERLAP
        for jti, expires_at, reason in blacklist.entries_since(cutoff, started):
            self.add(jti, expires_at, reason)
        if self.versions is not None:
            since = max(self.versions_since, cutoff or self.versions_since) - OVERLAP
            bumped = accounts.token_versions_since(since)
            self.versions.update(bumped)
            self.changed[1].update(bumped)
        self.since, self.read_at = started, time.monotonic()
        self._prune()

    def add(self, jti, expires_at, reason):
        self.jtis[jti] = (expires_at.timestamp(), reason == blacklist.REVOKED)
        if self.changed is not None:
            self.changed[0].add(jti)

    def refuses(self, jti):
        """Whether a token check refuses `jti` (revoked or retired)."""
        return jti in self.jtis

    def ends_socket(self, jti, account_id, version):
        """Whether a socket opened with this token must end (revoked, not retired)."""
        if self.jtis.get(jti, (0, False))[1]:
            return True
        return version < (self.versions or {}).get(account_id, 0)

    def _prune(self):
        if time.monotonic() - self.pruned_at < PRUNE_SECONDS:
            return
        self.pruned_at, now = time.monotonic(), time.time()
        self.jtis = {jti: entry for jti, entry in self.jtis.items() if entry[0] > now}


def init_app(app):
    app.extensions["revocations"] = RevocationFeed(app.config["REVOCATION_POLL_SECONDS"])


def feed():
    return current_app.extensions["revocations"]


def is_blacklisted(jti):
    """Whether the token check refuses `jti`, from the feed, read again first when it is
    older than REVOCATION_POLL_SECONDS."""
    current = feed()
    if current.stale():
        current.refresh()
    return current.refuses(jti)


def revoke(jti, account_id, role, expires_at):
    """Blacklist one token (idempotent): refused at once here, and its sockets end."""
    feed().add(jti, expires_at, blacklist.REVOKED)
    blacklist.revoke(jti, account_id, role, expires_at)


def retire(jti, account_id, role, expires_at):
    """Blacklist a token that a refresh replaced (idempotent): refused at once here."""
    feed().add(jti, expires_at, blacklist.RETIRED)
    blacklist.retire(jti, account_id, role, expires_at)

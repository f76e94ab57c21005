"""The revocation watcher's indexes (realtime_service.sockets.revocation), in process
against the real database: a poll looks at the sockets of what the feed changed and at
the expiries that came, ends what it must with the same messages as before, forgets a
socket that left, and follows a recovered socket's new token."""
import time
from datetime import UTC, datetime, timedelta

import pytest

from realtime_service.sockets.revocation import (
    EXPIRED,
    REVOKED,
    ExpiryBuckets,
    RevocationWatcher,
    SocketSession,
)
from shared.accounts.revocations import RevocationFeed
from shared.serialize import now

from ..factories import make_user
from ..waiting import wait_until

LATER = 3600.0


@pytest.fixture
def watcher(realtime_app):
    """A watcher of its own over a feed of its own, in the app's context."""
    with realtime_app.app_context():
        yield RevocationWatcher(RevocationFeed(0.5))


def session_of(account_id, jti, exp=None, ver=0):
    return SocketSession(str(account_id), "user", jti, ver, exp or time.time() + LATER)


def blacklist_elsewhere(db, jti, account_id):
    """A revocation written by another process: seen at the next read of the feed."""
    db.blacklisted_tokens.insert_one({"jti": jti, "sub": str(account_id), "role": "user",
                                      "reason": "revoked", "createdAt": now(),
                                      "expiresAt": now() + timedelta(days=1)})


def test_nothing_changed_ends_nothing(watcher, db):
    for n in range(50):
        watcher.track(f"sid{n}", session_of(make_user(db)["_id"], f"jti{n}"))
    assert watcher.ended() == []
    assert watcher.ended() == []


def test_a_revoked_token_ends_its_sockets_only(watcher, db):
    user = make_user(db)
    watcher.track("a", session_of(user["_id"], "j1"))
    watcher.track("b", session_of(user["_id"], "j1"))
    watcher.track("c", session_of(user["_id"], "j2"))
    watcher.ended()  # the first read: the whole live blacklist
    blacklist_elsewhere(db, "j1", user["_id"])
    assert sorted(watcher.ended()) == [("a", REVOKED), ("b", REVOKED)]


def test_a_revocation_of_this_process_ends_at_the_next_poll(watcher, db):
    user = make_user(db)
    watcher.track("a", session_of(user["_id"], "j1"))
    watcher.feed.add("j1", datetime.now(UTC) + timedelta(hours=1), "revoked")
    assert watcher.ended() == [("a", REVOKED)]


def test_a_retired_token_keeps_its_socket(watcher, db):
    user = make_user(db)
    watcher.track("a", session_of(user["_id"], "j1"))
    watcher.feed.add("j1", datetime.now(UTC) + timedelta(hours=1), "retired")
    assert watcher.ended() == []


def test_a_version_bump_ends_the_accounts_older_tokens(watcher, db):
    user, other = make_user(db), make_user(db)
    watcher.track("old", session_of(user["_id"], "j1", ver=0))
    watcher.track("new", session_of(user["_id"], "j2", ver=1))
    watcher.track("other", session_of(other["_id"], "j3", ver=0))
    watcher.ended()
    db.users.update_one({"_id": user["_id"]},
                        {"$set": {"tokenVersion": 1, "tokensRevokedAt": now()}})
    assert watcher.ended() == [("old", REVOKED)]


def test_a_token_revoked_before_its_socket_was_tracked_ends_it(watcher, db):
    user = make_user(db)
    blacklist_elsewhere(db, "j1", user["_id"])
    watcher.ended()  # the change is taken before the socket is watched
    watcher.track("late", session_of(user["_id"], "j1"))
    assert watcher.ended() == [("late", REVOKED)]


def test_an_expired_token_ends_its_socket_when_due(watcher, db):
    user = make_user(db)
    watcher.track("short", session_of(user["_id"], "j1", exp=time.time() + 0.3))
    watcher.track("long", session_of(user["_id"], "j2"))
    assert watcher.ended() == []
    wait_until(lambda: watcher.ended() == [("short", EXPIRED)])


def test_an_ended_socket_is_ended_again_until_forgotten(watcher, db):
    user = make_user(db)
    watcher.track("a", session_of(user["_id"], "j1", exp=time.time() - 1))
    assert watcher.ended() == [("a", EXPIRED)]
    assert watcher.ended() == [("a", EXPIRED)]  # its disconnect has not come yet
    watcher.forget("a")
    assert watcher.ended() == []


def test_a_socket_gone_before_its_expiry_is_forgotten(watcher, db):
    user = make_user(db)
    for n in range(20):
        watcher.track(f"s{n}", session_of(user["_id"], f"j{n}", exp=time.time() + n % 3))
    for n in range(20):
        assert watcher.forget(f"s{n}").jti == f"j{n}"
    assert watcher.forget("s0") is None
    assert (watcher.sessions, watcher.by_jti, watcher.by_account, watcher.ending) == (
        {}, {}, {}, {})
    assert len(watcher.expiries) == 0
    blacklist_elsewhere(db, "j1", user["_id"])
    assert watcher.ended() == []


def test_a_recovered_socket_is_watched_with_its_new_token(watcher, db):
    """A recovered socket keeps its id: its disconnect forgot it, its new connect
    tracks it again with the token it came back with."""
    user = make_user(db)
    watcher.track("sid", session_of(user["_id"], "old", exp=time.time() - 1))
    watcher.forget("sid")
    watcher.track("sid", session_of(user["_id"], "new"))
    blacklist_elsewhere(db, "old", user["_id"])
    assert watcher.ended() == []  # neither the old token's expiry nor its revocation
    blacklist_elsewhere(db, "new", user["_id"])
    assert watcher.ended() == [("sid", REVOKED)]


def test_tracking_an_id_again_replaces_its_token(watcher, db):
    user = make_user(db)
    watcher.track("sid", session_of(user["_id"], "old"))
    watcher.track("sid", session_of(user["_id"], "new"))
    assert set(watcher.by_jti) == {"new"}
    watcher.feed.add("old", datetime.now(UTC) + timedelta(hours=1), "revoked")
    assert watcher.ended() == []


def test_expiry_buckets_take_only_what_is_due():
    buckets, base = ExpiryBuckets(), 1000.0
    buckets.add("a", base + 0.2)
    buckets.add("b", base + 0.7)
    buckets.add("c", base + 5.5)
    buckets.add("d", base - 3)
    assert buckets.take_due(base + 0.5) == ["d", "a"]
    assert buckets.take_due(base + 0.5) == []
    buckets.discard("c", base + 5.5)
    buckets.discard("c", base + 5.5)  # twice, or never added: nothing happens
    assert buckets.take_due(base + 10) == ["b"]
    assert len(buckets) == 0 and buckets.seconds == [] and buckets.buckets == {}

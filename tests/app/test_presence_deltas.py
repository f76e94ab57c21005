"""`PRESENCE_EVENTS=delta` coalesced per PRESENCE_ANNOUNCE_SECONDS: the changes of a
window go out together at its end, in order, an account online then offline within
it nets to nothing, and a socket that connected in it gets the list at the same
flush instead of the changes (the realtime app in this process)."""
import time

import pytest

from realtime_service.extensions import socketio
from realtime_service.sockets import namespace, notifier

from ..factories import make_user, token_for

WINDOW = 2.0  # long enough for a test's connects to fall in one window


@pytest.fixture
def flushes(monkeypatch):
    """The change lists `to_room_each` sent, one per flush."""
    sent = []
    to_room_each = notifier.to_room_each

    def recording(room, events, skip_sids=()):
        sent.append([(event, payload["userId"]) for event, payload in events])
        return to_room_each(room, events, skip_sids)

    monkeypatch.setattr(notifier, "to_room_each", recording)
    return sent


@pytest.fixture
def delta_app(make_realtime_app):
    return make_realtime_app(PRESENCE_EVENTS="delta", PRESENCE_ANNOUNCE_SECONDS=WINDOW,
                             PRESENCE_GRACE_SECONDS=0)


def yield_until(check, timeout):
    """Let the app's greenlets run until `check()` holds (this process is not
    monkey-patched: `time.sleep` would not let them run)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not within the timeout"
        socketio.sleep(0.01)


def observer_of(app, app_sockets, db, flushes):
    """A user connected and told the list; `flushes` forgets its own coming online."""
    account = make_user(db)
    observer = app_sockets(app, token_for(account))
    assert observer.wait_for("getOnlineUsers") == [str(account["_id"])]
    assert flushes == [[("userOnline", str(account["_id"]))]]
    flushes.clear()
    return observer


def test_a_burst_of_connects_is_one_flush_of_every_change_in_order(
        delta_app, app_sockets, db, flushes):
    observer = observer_of(delta_app, app_sockets, db, flushes)
    accounts = [make_user(db) for _ in range(5)]
    ids = [str(account["_id"]) for account in accounts]
    burst = [app_sockets(delta_app, token_for(account)) for account in accounts]
    everyone = set(ids) | set(observer.wait_for("getOnlineUsers"))
    observer.wait_for("userOnline", lambda p: p["userId"] == ids[-1], timeout=3 * WINDOW)
    assert observer.events["userOnline"] == [{"userId": i} for i in ids]
    assert flushes == [[("userOnline", i) for i in ids]]
    for client in burst:  # the list once, as it was at the flush, and no change of it
        assert set(client.wait_for("getOnlineUsers")) == everyone
        client.settle()
        assert len(client.events["getOnlineUsers"]) == 1
        assert "userOnline" not in client.events


def test_online_then_offline_within_a_window_nets_to_nothing(
        delta_app, app_sockets, db, flushes):
    observer = observer_of(delta_app, app_sockets, db, flushes)
    passing, staying = make_user(db), make_user(db)
    app_sockets(delta_app, token_for(passing)).disconnect()
    later = app_sockets(delta_app, token_for(staying))
    staying_id = str(staying["_id"])
    observer.wait_for("userOnline", timeout=3 * WINDOW)
    observer.settle()
    assert observer.events["userOnline"] == [{"userId": staying_id}]
    assert "userOffline" not in observer.events
    assert flushes == [[("userOnline", staying_id)]]
    assert str(passing["_id"]) not in later.wait_for("getOnlineUsers")


def test_offline_then_back_within_a_window_nets_to_nothing(
        delta_app, app_sockets, db, flushes):
    observer = observer_of(delta_app, app_sockets, db, flushes)
    leaving, other = make_user(db), make_user(db)
    first = app_sockets(delta_app, token_for(leaving))
    observer.wait_for("userOnline", timeout=3 * WINDOW)  # its own flush, at the window's end
    first.disconnect()
    app_sockets(delta_app, token_for(leaving))  # back within the next window
    app_sockets(delta_app, token_for(other))
    other_id = str(other["_id"])
    observer.wait_for("userOnline", lambda p: p["userId"] == other_id, timeout=3 * WINDOW)
    observer.settle()
    assert "userOffline" not in observer.events
    assert flushes[-1] == [("userOnline", other_id)]


def test_the_changes_of_successive_windows_go_out_in_successive_flushes(
        delta_app, app_sockets, db, flushes):
    observer = observer_of(delta_app, app_sockets, db, flushes)
    leaving = make_user(db)
    client = app_sockets(delta_app, token_for(leaving))
    leaving_id = str(leaving["_id"])
    observer.wait_for("userOnline", timeout=3 * WINDOW)
    client.disconnect()
    assert observer.wait_for("userOffline", timeout=3 * WINDOW) == {"userId": leaving_id}
    assert flushes == [[("userOnline", leaving_id)], [("userOffline", leaving_id)]]


def test_the_offline_grace_decides_and_the_flush_carries_it(
        make_realtime_app, app_sockets, db, flushes):
    """An account whose socket may be recovered is announced offline only if it is not
    back within PRESENCE_GRACE_SECONDS, by the next flush."""
    app = make_realtime_app(PRESENCE_EVENTS="delta", PRESENCE_ANNOUNCE_SECONDS=0.2,
                            PRESENCE_GRACE_SECONDS=0.3)
    observer = observer_of(app, app_sockets, db, flushes)
    gone, back = str(make_user(db)["_id"]), str(make_user(db)["_id"])
    with app.app_context():  # as the disconnect of a socket that may come back does
        grace = notifier.offline_grace()
        grace.later(gone, namespace.announce_offline)
        grace.later(back, namespace.announce_offline)
        assert grace.back(back)
    assert observer.wait_for("userOffline") == {"userId": gone}
    observer.settle(0.5)
    assert observer.events["userOffline"] == [{"userId": gone}]
    assert flushes == [[("userOffline", gone)]]


def test_a_failed_flush_keeps_its_changes_for_the_next_one(
        delta_app, app_sockets, db, flushes, monkeypatch):
    observer = observer_of(delta_app, app_sockets, db, flushes)
    first, second = make_user(db), make_user(db)
    first_id, second_id = str(first["_id"]), str(second["_id"])
    recording = notifier.to_room_each
    failed = []

    def failing_once(room, events, skip_sids=()):
        if not failed:
            failed.append(events)
            raise ConnectionError("the queue is away")
        return recording(room, events, skip_sids)

    monkeypatch.setattr(notifier, "to_room_each", failing_once)
    app_sockets(delta_app, token_for(first))
    yield_until(lambda: failed, timeout=3 * WINDOW)
    app_sockets(delta_app, token_for(second))  # the next change flushes both
    observer.wait_for("userOnline", lambda p: p["userId"] == second_id, timeout=3 * WINDOW)
    assert observer.events["userOnline"] == [{"userId": first_id}, {"userId": second_id}]
    assert flushes == [[("userOnline", first_id), ("userOnline", second_id)]]

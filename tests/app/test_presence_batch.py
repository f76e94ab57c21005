"""Batched presence (`auth.presence = "batch"`, PRESENCE_EVENTS=delta): a connection that
asks for it gets one `presence {"online", "offline"}` event per window, netted and in
order, instead of one event per account; the others keep `userOnline`/`userOffline`;
an unknown option is refused (the realtime app in this process)."""
import pytest

from realtime_service.sockets import notifier

from ..factories import make_user, token_for
from .test_presence_deltas import WINDOW

BATCH = {"presence": "batch"}


@pytest.fixture
def delta_app(make_realtime_app):
    return make_realtime_app(PRESENCE_EVENTS="delta", PRESENCE_ANNOUNCE_SECONDS=WINDOW,
                             PRESENCE_GRACE_SECONDS=0)


def watcher(app, app_sockets, db, auth=None):
    """A user connected with `auth` and told the list (and its own coming online)."""
    account = make_user(db)
    client = app_sockets(app, token_for(account), auth=auth)
    assert str(account["_id"]) in client.wait_for("getOnlineUsers", timeout=3 * WINDOW)
    client.settle(0.1)
    client.events.clear()
    return client


def online_of(events):
    return [account_id for payload in events for account_id in payload["online"]]


def test_a_burst_is_one_presence_event_for_a_batch_client_and_one_per_account_for_others(
        delta_app, app_sockets, db):
    batched = watcher(delta_app, app_sockets, db, BATCH)
    each = watcher(delta_app, app_sockets, db)
    batched.wait_for("presence", timeout=3 * WINDOW)  # the second watcher's coming online
    batched.forget("presence")
    accounts = [make_user(db) for _ in range(5)]
    ids = [str(account["_id"]) for account in accounts]
    for account in accounts:
        app_sockets(delta_app, token_for(account))
    batched.wait_for("presence", lambda p: ids[-1] in p["online"], timeout=3 * WINDOW)
    each.wait_for("userOnline", lambda p: p["userId"] == ids[-1], timeout=3 * WINDOW)
    batched.settle(0.2)
    assert online_of(batched.events["presence"]) == ids
    assert len(batched.events["presence"]) <= 2  # the first change at once, then the rest
    assert all(p["offline"] == [] for p in batched.events["presence"])
    assert "userOnline" not in batched.events
    assert each.events["userOnline"] == [{"userId": i} for i in ids]
    assert "presence" not in each.events


def test_a_batch_nets_a_window_and_carries_who_went_offline(delta_app, app_sockets, db):
    batched = watcher(delta_app, app_sockets, db, BATCH)
    leaving, passing, staying = make_user(db), make_user(db), make_user(db)
    first = app_sockets(delta_app, token_for(leaving))
    leaving_id = str(leaving["_id"])
    batched.wait_for("presence", lambda p: leaving_id in p["online"], timeout=3 * WINDOW)
    batched.forget("presence")
    first.disconnect()
    app_sockets(delta_app, token_for(passing)).disconnect()  # online and offline: nothing
    app_sockets(delta_app, token_for(staying))
    staying_id = str(staying["_id"])
    payload = batched.wait_for("presence", lambda p: staying_id in p["online"],
                               timeout=3 * WINDOW)
    batched.settle(0.2)
    assert payload == {"online": [staying_id], "offline": [leaving_id]}
    assert len(batched.events["presence"]) == 1


def test_a_batch_client_connecting_gets_the_list_then_only_later_batches(
        delta_app, app_sockets, db):
    watcher(delta_app, app_sockets, db, BATCH)
    account = make_user(db)
    client = app_sockets(delta_app, token_for(account), auth=BATCH)
    assert str(account["_id"]) in client.wait_for("getOnlineUsers", timeout=3 * WINDOW)
    client.settle(0.2)
    assert "presence" not in client.events  # its own coming online is in its list


@pytest.mark.parametrize("option", ["batched", "", 5, ["batch"], {"mode": "batch"}])
def test_an_unknown_presence_option_is_refused(delta_app, app_sockets, db, option):
    client = app_sockets(delta_app, token_for(make_user(db)), auth={"presence": option})
    assert not client.connected
    assert client.connect_error == {"message": notifier.UNKNOWN_PRESENCE}


def test_each_is_the_default_named(delta_app, app_sockets, db):
    each = watcher(delta_app, app_sockets, db, {"presence": "each"})
    account = make_user(db)
    app_sockets(delta_app, token_for(account))
    assert each.wait_for("userOnline", timeout=3 * WINDOW) == {"userId": str(account["_id"])}


def test_in_compat_mode_a_batch_client_gets_the_lists_as_everyone(
        make_realtime_app, app_sockets, db):
    app = make_realtime_app(PRESENCE_EVENTS="compat", PRESENCE_ANNOUNCE_SECONDS=0.2)
    batched = watcher(app, app_sockets, db, BATCH)
    account = make_user(db)
    app_sockets(app, token_for(account))
    assert str(account["_id"]) in batched.wait_for("getOnlineUsers", timeout=2)
    assert "presence" not in batched.events

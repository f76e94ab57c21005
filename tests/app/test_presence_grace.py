"""An account whose last socket dropped (it may be recovered) stays online during
PRESENCE_GRACE_SECONDS: a user connecting meanwhile sees it in the list; back within
the grace, nobody is told anything; not back, it goes offline when the grace ends. A
client's own disconnect is offline at once (the realtime app in this process)."""
import pytest
from bson import ObjectId

from realtime_service.extensions import socketio
from realtime_service.sockets import presence

from ..factories import make_user, token_for

GRACE = 2.0  # long enough for a test's connects to fall within it


@pytest.fixture(params=["delta", "lists"])
def mode(request):
    return request.param


def app_of(make_realtime_app, mode, grace):
    settings = {"PRESENCE_EVENTS": "delta"} if mode == "delta" else {}
    return make_realtime_app(PRESENCE_ANNOUNCE_SECONDS=0.1, PRESENCE_GRACE_SECONDS=grace,
                             **settings)


@pytest.fixture
def grace_app(make_realtime_app, mode):
    return app_of(make_realtime_app, mode, GRACE)


def drop(client):
    """End the connection as a ping timeout does: not on purpose, so it may come back."""
    socketio.server._handle_eio_disconnect(client.client.eio_sid, "ping timeout")
    client.client.connected.pop("/", None)


def connected(app, app_sockets, db, account=None):
    """A connected user (a new one unless `account`) and its id."""
    account = account or make_user(db)
    client = app_sockets(app, token_for(account))
    client.wait_for("getOnlineUsers")
    return client, str(account["_id"])


def wait_offline(observer, account_id, mode, timeout=3 * GRACE):
    """Wait until `observer` is told that the account went offline."""
    if mode == "delta":
        observer.wait_for("userOffline", lambda payload: payload["userId"] == account_id,
                          timeout=timeout)
    else:
        observer.wait_for("getOnlineUsers", lambda ids: account_id not in ids,
                          timeout=timeout)


def online_ids(app):
    with app.app_context():
        return presence.online_ids("user")


def test_a_dropped_user_is_listed_during_the_grace_then_offline(
        grace_app, app_sockets, db, mode):
    bob, bob_id = connected(grace_app, app_sockets, db)
    drop(bob)
    carol, _ = connected(grace_app, app_sockets, db)
    assert bob_id in carol.events["getOnlineUsers"][0]
    assert bob_id in online_ids(grace_app)
    wait_offline(carol, bob_id, mode)
    assert bob_id not in online_ids(grace_app)
    with grace_app.app_context():
        assert not presence.is_online(bob_id)


def test_a_user_back_within_the_grace_was_never_offline(grace_app, app_sockets, db, mode):
    bob, bob_id = connected(grace_app, app_sockets, db)
    dave, dave_id = connected(grace_app, app_sockets, db)
    drop(bob)
    drop(dave)  # a witness: its grace ends after Bob's
    carol, _ = connected(grace_app, app_sockets, db)
    assert {bob_id, dave_id} <= set(carol.events["getOnlineUsers"][0])
    connected(grace_app, app_sockets, db, db.users.find_one({"_id": ObjectId(bob_id)}))
    wait_offline(carol, dave_id, mode)
    assert all(bob_id in ids for ids in carol.events["getOnlineUsers"])
    assert {"userId": bob_id} not in carol.events["userOffline"]
    assert {"userId": bob_id} not in carol.events["userOnline"]
    assert bob_id in online_ids(grace_app)


def test_a_clients_own_disconnect_is_offline_at_once(make_realtime_app, app_sockets, db,
                                                      mode):
    app = app_of(make_realtime_app, mode, grace=600)  # not waited for
    carol, _ = connected(app, app_sockets, db)
    bob, bob_id = connected(app, app_sockets, db)
    bob.disconnect()
    wait_offline(carol, bob_id, mode, timeout=10)
    assert bob_id not in online_ids(app)

"""Delta presence across a recovery with the real socket.io-client (a served realtime
process): a client whose network went silent (the server still holds its old
connection and pushes into it) and that comes back on a new one before the server
notices gets the presence change made meanwhile once, then the list again, and the
other events pushed meanwhile once."""
import pytest

from tests.conftest import serve
from tests.cutting_proxy import CuttingProxy
from tests.factories import make_user, token_for
from tests.jsclient import JSClient
from tests.sockets import RecordingClient
from tests.system.test_recovery import assert_in_offset_order, send, texts, wait_for_texts
from tests.waiting import wait_until


@pytest.fixture
def delta_service(mongo_uri, tmp_path):
    service = serve("realtime_service", mongo_uri, tmp_path, PRESENCE_EVENTS="delta",
                    PRESENCE_ANNOUNCE_SECONDS="0.25", PRESENCE_GRACE_SECONDS="0.5")
    yield service
    service.stop()


@pytest.fixture
def proxy(delta_service):
    proxy = CuttingProxy(delta_service.port)
    yield proxy
    proxy.close()


def direct_user(url, db):
    """A user connected straight to the service (not through the proxy)."""
    account = make_user(db)
    client = RecordingClient().connect(url, token_for(account))
    client.wait_for("getOnlineUsers")
    return account, client


@pytest.mark.parametrize("cut", ["freeze", "cut"])
@pytest.mark.parametrize("style", ["each", "batch"])
def test_a_client_back_before_its_old_connection_was_found_dead_gets_the_change_once(
        cut, style, delta_service, proxy, db):
    """While the client's network is silent (`freeze`) or reset (`cut`), a user drops
    and stays away past PRESENCE_GRACE_SECONDS, and a message is sent to the client:
    once recovered it has the offline change once, a fresh list without that user,
    and the message once."""
    url = delta_service.url
    alice = make_user(db)
    bob, bob_client = direct_user(url, db)
    carol, watcher = direct_user(url, db)
    client = JSClient(proxy.url, token_for(alice), auth={"presence": style})
    try:
        client.wait_connected()
        wait_until(lambda: client.events("getOnlineUsers"), what="the first list")
        assert str(bob["_id"]) in client.events("getOnlineUsers")[0][0]
        getattr(proxy, cut)()
        bob_client.client.eio.disconnect(abort=True)  # dropped: the grace applies
        assert watcher.wait_for("userOffline", timeout=10) == {"userId": str(bob["_id"])}
        send(url, carol, alice, "while away")
        if cut == "freeze":
            client.command("drop")
        client.wait_connected(2)
        wait_until(lambda: len(client.events("getOnlineUsers")) >= 2, timeout=10,
                   what=f"the list after recovering (saw {client.lines[-6:]})")
        wait_until(lambda: offline_changes(client, style), timeout=10,
                   what=f"the offline change (saw {client.lines[-6:]})")
        assert offline_changes(client, style) == [str(bob["_id"])]
        assert str(bob["_id"]) not in seen_online(client, style)
        wait_for_texts(client, 1, timeout=10)
        assert texts(client) == ["while away"]
        assert_in_offset_order(client)
        assert [connect["recovered"] for connect in client.connects()] == [False, True]
    finally:
        client.close()
        watcher.disconnect()


def seen_online(client, style):
    """The online set as the client knows it: its last list, with every change it got
    after that list applied in order (a list sent during the grace still has the user;
    the change follows it)."""
    online = set()
    for line in client.of_type("event"):
        payload = line["args"][0]
        if line["event"] == "getOnlineUsers":
            online = set(payload)
        elif line["event"] in ("userOnline", "userOffline"):
            (online.add if line["event"] == "userOnline" else online.discard)(payload["userId"])
        elif line["event"] == "presence" and style == "batch":
            online = (online | set(payload["online"])) - set(payload["offline"])
    return online


def offline_changes(client, style):
    if style == "batch":
        return [i for args in client.events("presence") for i in args[0]["offline"]]
    return [args[0]["userId"] for args in client.events("userOffline")]


@pytest.mark.parametrize("style", ["each", "batch"])
def test_a_change_in_the_window_of_the_recovery_comes_as_the_fresh_list(
        style, mongo_uri, tmp_path, db):
    """The change is made as the client comes back (frozen, then given up at once),
    within the window of the last announcement (no grace: Bob goes offline at once):
    the change is flushed at the window's end, where the recovered connection gets the
    list instead, which shows it."""
    service = serve("realtime_service", mongo_uri, tmp_path, PRESENCE_EVENTS="delta",
                    PRESENCE_ANNOUNCE_SECONDS="1.0", PRESENCE_GRACE_SECONDS="0")
    proxy = CuttingProxy(service.port)
    bob, bob_client = direct_user(service.url, db)
    client = JSClient(proxy.url, token_for(make_user(db)), auth={"presence": style})
    try:
        client.wait_connected()
        wait_until(lambda: client.events("getOnlineUsers"), what="the first list")
        proxy.freeze()
        bob_client.disconnect()
        client.command("drop")
        client.wait_connected(2)
        wait_until(lambda: len(client.events("getOnlineUsers")) >= 2, timeout=10,
                   what=f"the list after recovering (saw {client.lines[-6:]})")
        lists = [args[0] for args in client.events("getOnlineUsers")]
        assert str(bob["_id"]) in lists[0] and str(bob["_id"]) not in lists[-1]
        assert offline_changes(client, style) in ([], [str(bob["_id"])])
        assert_in_offset_order(client)
        assert [connect["recovered"] for connect in client.connects()] == [False, True]
    finally:
        client.close()
        proxy.close()
        service.stop()

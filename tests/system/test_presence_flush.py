"""Delta presence over real transports: a window's changes, written to a websocket in
one write (frames built once), reach a websocket client and a long-polling one as
separate events, in order, each with an offset of its own (a served realtime
process); with Redis, the changes of one process reach the users of another. The same
for a client asking for batched presence (one `presence` event per window)."""
import pytest

from devserver.processes import stop_all

from ..conftest import prepare, serve, serve_all
from ..cutting_proxy import CuttingProxy
from ..factories import make_user, token_for
from ..jsclient import JSClient
from ..sockets import RecordingClient
from ..waiting import wait_until


@pytest.fixture
def delta_service(mongo_uri, tmp_path):
    service = serve("realtime_service", mongo_uri, tmp_path, PRESENCE_EVENTS="delta",
                    PRESENCE_ANNOUNCE_SECONDS="1.0")
    yield service
    service.stop()


@pytest.fixture
def delta_url(delta_service):
    return delta_service.url


def observer(url, db, transports):
    """A connected user whose `userOnline` events are kept with their offsets."""
    client = RecordingClient()
    received = []
    client.client.on("userOnline", lambda payload, offset: received.append((payload, offset)))
    client.connect(url, token_for(make_user(db)), transports=transports)
    client.wait_for("getOnlineUsers")
    return client, received


def test_a_flush_reaches_websocket_and_polling_clients_as_separate_events(delta_url, db):
    watchers = [observer(delta_url, db, ("websocket",)), observer(delta_url, db, ("polling",))]
    accounts = [make_user(db) for _ in range(4)]
    ids = [str(account["_id"]) for account in accounts]
    burst = [RecordingClient().connect(delta_url, token_for(a)) for a in accounts]
    try:
        for client, received in watchers:
            wait_until(lambda r=received: {p["userId"] for p, _ in r} >= set(ids),
                       timeout=10, what="the burst's userOnline events")
            ours = [(p, o) for p, o in received if p["userId"] in ids]
            assert [p for p, _ in ours] == [{"userId": i} for i in ids]
            sequence = [int(offset.rpartition(":")[2]) for _, offset in ours]
            assert sequence == sorted(set(sequence))  # one offset each, in order
            for other in burst:
                assert set(other.wait_for("getOnlineUsers")) >= set(ids)
            client.disconnect()
    finally:
        for client in burst:
            client.disconnect()


def delta_pair(mongo_uri, redis_url, tmp_path):
    """Two realtime processes sharing Redis, delta presence with a 1 s window."""
    return serve_all([prepare("realtime_service", mongo_uri, tmp_path, REDIS_URL=redis_url,
                              PRESENCE_EVENTS="delta", PRESENCE_ANNOUNCE_SECONDS="1.0")
                      for _ in range(2)])


def test_with_redis_a_window_of_changes_reaches_the_users_of_the_other_process(
        mongo_uri, redis_url, tmp_path, db):
    services = delta_pair(mongo_uri, redis_url, tmp_path)
    try:
        watcher, received = observer(services[0].url, db, ("websocket",))
        accounts = [make_user(db) for _ in range(3)]
        ids = [str(account["_id"]) for account in accounts]
        burst = [RecordingClient().connect(services[1].url, token_for(a)) for a in accounts]
        wait_until(lambda: {p["userId"] for p, _ in received} >= set(ids), timeout=10,
                   what="the other process's userOnline events")
        assert [p["userId"] for p, _ in received if p["userId"] in ids] == ids
        burst[0].disconnect()
        assert watcher.wait_for("userOffline", timeout=10) == {"userId": ids[0]}
        for client in [watcher, *burst]:
            client.disconnect()
    finally:
        stop_all(services)


def test_a_batch_client_gets_one_presence_event_per_window_and_recovers_a_missed_one(
        delta_service, db):
    """The real socket.io-client asking `auth.presence = "batch"`: a burst is one or two
    `presence` events (each with an offset), never `userOnline`; a change made as its
    connection is cut reaches it once, and its connection is recovered."""
    delta_url, proxy = delta_service.url, CuttingProxy(delta_service.port)
    client = JSClient(proxy.url, token_for(make_user(db)), auth={"presence": "batch"})
    accounts = [make_user(db) for _ in range(4)]
    ids = [str(account["_id"]) for account in accounts]
    burst = []
    try:
        client.wait_connected()
        own = wait_until(lambda: client.events("getOnlineUsers"), what="the list")[0][0][0]
        burst = [RecordingClient().connect(delta_url, token_for(a)) for a in accounts]
        wait_until(lambda: set(online(client)) >= set(ids), timeout=10, what="the burst")
        assert online(client) == ids
        assert len(client.events("presence")) <= 2 and not client.events("userOnline")
        assert all(isinstance(args[-1], str) for args in client.events("presence"))
        burst[0].disconnect()
        proxy.cut()  # the offline batch is in flight, or not yet sent
        client.wait_connected(2)
        # Once: as a `presence` offline, or in the list a recovered connection gets again
        # (which is then followed by no change it already shows).
        wait_until(lambda: ids[0] not in view(client) and len(client.connects()) == 2,
                   timeout=10, what="the offline change")
        assert view(client) == {own, *ids[1:]}
        assert offline(client) in ([], [ids[0]])
        assert [connect["recovered"] for connect in client.connects()] == [False, True]
    finally:
        client.close()
        proxy.close()
        for other in burst:
            other.disconnect()


def online(client):
    return [i for args in client.events("presence") for i in args[0]["online"]]


def offline(client):
    return [i for args in client.events("presence") for i in args[0]["offline"]]


def view(client):
    """The online set as a client builds it: each list replaces it, `presence` amends it."""
    online_now = set()
    for line in client.of_type("event"):
        if line["event"] == "getOnlineUsers":
            online_now = set(line["args"][0])
        elif line["event"] == "presence":
            online_now = (online_now | set(line["args"][0]["online"])) - set(
                line["args"][0]["offline"])
    return online_now


def test_with_redis_a_batch_client_gets_the_other_process_s_changes(
        mongo_uri, redis_url, tmp_path, db):
    services = delta_pair(mongo_uri, redis_url, tmp_path)
    try:
        watcher = RecordingClient().connect(services[0].url, token_for(make_user(db)),
                                            auth={"presence": "batch"})
        watcher.wait_for("getOnlineUsers")
        accounts = [make_user(db) for _ in range(3)]
        ids = [str(account["_id"]) for account in accounts]
        burst = [RecordingClient().connect(services[1].url, token_for(a)) for a in accounts]
        wait_until(lambda: {i for p in watcher.events["presence"] for i in p["online"]}
                   >= set(ids), timeout=10, what="the other process's presence events")
        assert [i for p in watcher.events["presence"] for i in p["online"]] == ids
        assert "userOnline" not in watcher.events
        for client in [watcher, *burst]:
            client.disconnect()
    finally:
        stop_all(services)

"""Calls across two realtime processes sharing a real redis-server: the members of
one room, connected to different processes, see each other, signal each other and
hear each other leave."""
import pytest

from ..conftest import serve
from ..factories import make_user


@pytest.fixture(scope="module")
def processes(mongo_uri, redis_url, tmp_path_factory):
    services = [serve("realtime_service", mongo_uri, tmp_path_factory.mktemp("calls"),
                      REDIS_URL=redis_url) for _ in range(2)]
    yield [service.url for service in services]
    for service in services:
        service.stop()


def ack(client, event, data):
    return client.client.call(event, data, timeout=5)


def test_members_on_two_processes_share_a_room(processes, db, account_sockets):
    url_a, url_b = processes
    alice, bob = make_user(db), make_user(db)
    on_a, on_b = account_sockets(url_a, alice), account_sockets(url_b, bob)
    room = ack(on_a, "call-start", {"kind": "meeting"})["room"]
    assert ack(on_a, "call-join", {"room": room})["ok"]
    joined = ack(on_b, "call-join", {"room": room})
    assert [m["accountId"] for m in joined["members"]] == [str(alice["_id"]), str(bob["_id"])]
    assert on_a.wait_for("call-member-joined")["member"]["accountId"] == str(bob["_id"])
    offer = {"type": "offer", "sdp": "v=0\r\n"}
    assert ack(on_b, "signal", {"room": room, "to": str(alice["_id"]), "data": offer}) == {
        "ok": True}
    assert on_a.wait_for("signal") == {"room": room, "from": str(bob["_id"]), "data": offer}
    answer = {"type": "answer", "sdp": "v=0\r\n"}
    assert ack(on_a, "signal", {"room": room, "to": str(bob["_id"]), "data": answer})["ok"]
    assert on_b.wait_for("signal")["data"] == answer
    on_b.disconnect()
    assert on_a.wait_for("call-member-left") == {"room": room, "accountId": str(bob["_id"])}


def test_video_meeting_members_on_two_processes(processes, db, account_sockets):
    """The video-meeting app's events (positional arguments, socket ids) cross the
    message queue as they are."""
    url_a, url_b = processes
    on_a, on_b = account_sockets(url_a, make_user(db)), account_sockets(url_b, make_user(db))
    page = "http://127.0.0.1:5000/scaled"
    assert ack(on_a, "join-call", page) == {"ok": True}
    assert ack(on_b, "join-call", page) == {"ok": True}
    a_id, b_id = on_a.client.get_sid(), on_b.client.get_sid()
    assert on_a.wait_for("user-joined", lambda args: args[0] == b_id) == (b_id, [a_id, b_id])
    offer = '{"sdp":{"type":"offer","sdp":"v=0\\r\\n"}}'
    assert ack(on_b, "signal", (a_id, offer)) == {"ok": True}
    assert on_a.wait_for("signal") == (b_id, offer)
    assert ack(on_a, "chat-message", ("hello", "Alice")) == {"ok": True}
    assert on_b.wait_for("chat-message") == ("hello", "Alice", a_id)
    on_b.disconnect()
    assert on_a.wait_for("user-left") == b_id

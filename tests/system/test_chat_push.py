"""Chat pushes over real Socket.IO connections to a served realtime process."""
import pytest
import requests
from bson import ObjectId

from ..factories import auth_header, make_user


@pytest.fixture
def url(served_realtime, db):
    return served_realtime.url


def post_message(url, sender, receiver, text, headers=None):
    response = requests.post(f"{url}/messages/send/{receiver['_id']}", json={"text": text},
                             headers={**auth_header(sender), **(headers or {})}, timeout=5)
    assert response.status_code == 201, response.text
    return response.json()["newMessage"]


def test_new_message_reaches_every_tab_of_both_parties(url, db, account_sockets):
    alice, bob, eve = make_user(db), make_user(db), make_user(db)
    bob_tabs = [account_sockets(url, bob), account_sockets(url, bob)]
    alice_sending, alice_other = account_sockets(url, alice), account_sockets(url, alice)
    eve_tab = account_sockets(url, eve)
    sent = post_message(url, alice, bob, "hello",
                        headers={"X-Socket-ID": alice_sending.client.get_sid()})
    for tab in (*bob_tabs, alice_other):
        received = tab.wait_for("newMessage", lambda m: m["_id"] == sent["_id"])
        assert received == sent
    # The sending tab (named in X-Socket-ID) and strangers get nothing.
    post_message(url, alice, bob, "second")
    alice_sending.wait_for("newMessage", lambda m: m["text"] == "second")
    assert [m["text"] for m in alice_sending.events["newMessage"]] == ["second"]
    assert "newMessage" not in eve_tab.events


def test_message_is_stored_before_it_is_pushed(url, db, account_sockets):
    alice, bob = make_user(db), make_user(db)
    tab = account_sockets(url, bob)
    seen_in_db = []
    tab.client.on("newMessage", lambda message, _offset: seen_in_db.append(
        db.messages.find_one({"_id": ObjectId(message["_id"])}) is not None))
    post_message(url, alice, bob, "persisted?")
    tab.client.sleep(0)
    for _ in range(100):
        if seen_in_db:
            break
        tab.client.sleep(0.02)
    assert seen_in_db == [True]


def test_a_seen_mark_tells_the_sender_and_the_reader_s_other_tabs(url, db, account_sockets):
    alice, bob = make_user(db), make_user(db)
    alice_tab = account_sockets(url, alice)
    bob_reading, bob_other = account_sockets(url, bob), account_sockets(url, bob)
    first = post_message(url, alice, bob, "one")
    second = post_message(url, alice, bob, "two")
    response = requests.get(f"{url}/messages/{alice['_id']}", headers=auth_header(bob),
                            timeout=5)
    assert [m["seen"] for m in response.json()["messages"]] == [False, False]  # only reads
    marked = requests.post(f"{url}/messages/{alice['_id']}/seen", json={"upTo": second["_id"]},
                           timeout=5, headers={**auth_header(bob),
                                               "X-Socket-ID": bob_reading.client.get_sid()})
    assert marked.json()["mark"]["upTo"] == second["_id"] and marked.json()["unseen"] == 0
    seen = alice_tab.wait_for("messages-seen")
    assert (seen["readerId"], seen["senderId"], seen["upTo"]) == (
        str(bob["_id"]), str(alice["_id"]), second["_id"])
    assert bob_other.wait_for("messages-seen")["unseen"] == 0
    # An older mark, or the same again, moves nothing and tells nobody.
    for up_to in (first["_id"], second["_id"]):
        requests.post(f"{url}/messages/{alice['_id']}/seen", json={"upTo": up_to},
                      headers=auth_header(bob), timeout=5)
    post_message(url, bob, alice, "marker")
    alice_tab.wait_for("newMessage", lambda m: m["text"] == "marker")
    bob_other.wait_for("newMessage", lambda m: m["text"] == "marker")
    assert len(alice_tab.events["messages-seen"]) == 1
    assert len(bob_other.events["messages-seen"]) == 1
    assert "messages-seen" not in bob_reading.events


def test_delivery_and_typing_cross_the_served_process(url, db, account_sockets):
    alice, bob = make_user(db), make_user(db)
    alice_tab, bob_tab = account_sockets(url, alice), account_sockets(url, bob)
    sent = post_message(url, alice, bob, "deliver me")
    bob_tab.wait_for("newMessage", lambda m: m["_id"] == sent["_id"])
    ack = bob_tab.call("message-delivered", {"messageIds": [sent["_id"]]})
    assert ack == {"ok": True, "delivered": [sent["_id"]]}
    told = alice_tab.wait_for("message-delivered")
    assert told["messageIds"] == [sent["_id"]] and told["receiverId"] == str(bob["_id"])
    assert bob_tab.call("typing", {"to": str(alice["_id"])}) == {"ok": True}
    assert alice_tab.wait_for("typing") == {"from": str(bob["_id"]), "active": True}

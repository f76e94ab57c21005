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
    tab.client.on("newMessage", lambda message: seen_in_db.append(
        db.messages.find_one({"_id": ObjectId(message["_id"])}) is not None))
    post_message(url, alice, bob, "persisted?")
    tab.client.sleep(0)
    for _ in range(100):
        if seen_in_db:
            break
        tab.client.sleep(0.02)
    assert seen_in_db == [True]


def test_reading_a_conversation_tells_the_sender(url, db, account_sockets):
    alice, bob = make_user(db), make_user(db)
    alice_tab = account_sockets(url, alice)
    first = post_message(url, alice, bob, "one")
    second = post_message(url, alice, bob, "two")
    response = requests.get(f"{url}/messages/{alice['_id']}", headers=auth_header(bob),
                            timeout=5)
    assert [m["seen"] for m in response.json()["messages"]] == [True, True]
    seen = alice_tab.wait_for("messagesSeen")
    assert seen == {"by": str(bob["_id"]), "messageIds": [first["_id"], second["_id"]]}
    third = post_message(url, alice, bob, "three")
    requests.put(f"{url}/messages/mark/{third['_id']}", headers=auth_header(bob), timeout=5)
    assert alice_tab.wait_for("messagesSeen", lambda p: p["messageIds"] == [third["_id"]])
    # Reading again with nothing new to mark sends nothing more.
    requests.get(f"{url}/messages/{alice['_id']}", headers=auth_header(bob), timeout=5)
    requests.put(f"{url}/messages/mark/{third['_id']}", headers=auth_header(bob), timeout=5)
    post_message(url, bob, alice, "marker")
    alice_tab.wait_for("newMessage", lambda m: m["text"] == "marker")
    assert len(alice_tab.events["messagesSeen"]) == 2

"""The states of a chat message on the native API, in process (Flask's and
Flask-SocketIO's test clients): delivered when the receiver's client acknowledges it,
seen under one mark per conversation that only moves forward, unseen counts across
the devices of one account, the typing indicator, the sync since a cursor, and reads
that change nothing (QuickChat's read still marks)."""
from datetime import timedelta

import pytest
from bson import ObjectId

from realtime_service.chat import service as chat_service
from realtime_service.extensions import socketio

from ..factories import auth_header, make_captain, make_user, token_for


@pytest.fixture
def connect(realtime_app, app_sockets):
    return lambda account, role="user": app_sockets(realtime_app, token_for(account, role))


def send(client, sender, receiver, text="hi"):
    response = client.post(f"/messages/send/{receiver['_id']}", json={"text": text},
                           headers=auth_header(sender))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["newMessage"]


def mark_seen(client, reader, sender, up_to=None, headers=None):
    return client.post(f"/messages/{sender['_id']}/seen",
                       json={} if up_to is None else {"upTo": up_to},
                       headers={**auth_header(reader), **(headers or {})})


def sync(client, account, since=None, limit=None):
    query = {key: value for key, value in (("since", since), ("limit", limit)) if value}
    response = client.get("/messages/sync", query_string=query, headers=auth_header(account))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


# Delivered.

def test_the_receiver_acknowledges_delivery_and_the_sender_is_told(realtime_client, db,
                                                                  connect):
    alice, bob = make_user(db), make_user(db)
    alice_socket, bob_socket = connect(alice), connect(bob)
    message = send(realtime_client, alice, bob)
    assert bob_socket.wait_for("newMessage")["_id"] == message["_id"]
    answer = bob_socket.call("message-delivered", {"messageIds": [message["_id"]]})
    assert answer == {"ok": True, "delivered": [message["_id"]]}
    told = alice_socket.wait_for("message-delivered")
    assert told["receiverId"] == str(bob["_id"]) and told["messageIds"] == [message["_id"]]
    stored = db.messages.find_one({"_id": ObjectId(message["_id"])})
    assert stored["deliveredAt"] is not None and stored["seen"] is False
    # Again (another device, a retried ack): nothing new, nobody told twice.
    again = bob_socket.call("message-delivered", {"messageIds": [message["_id"]]})
    assert again == {"ok": True, "delivered": []}
    alice_socket.settle()
    assert len(alice_socket.events["message-delivered"]) == 1
    listed = realtime_client.get(f"/messages/{bob['_id']}", headers=auth_header(alice))
    assert listed.get_json()["messages"][0]["deliveredAt"] == told["deliveredAt"]


def test_only_the_receiver_may_acknowledge(realtime_client, db, connect):
    alice, bob, carol = make_user(db), make_user(db), make_user(db)
    to_bob = send(realtime_client, alice, bob)["_id"]
    to_carol = send(realtime_client, alice, carol)["_id"]
    carol_socket, alice_socket = connect(carol), connect(alice)
    refusals = [
        (carol_socket, [to_bob], "Message not found"),
        (carol_socket, [to_carol, to_bob], "Message not found"),
        (alice_socket, [to_bob], "Only the receiver can acknowledge a message"),
        (carol_socket, [str(ObjectId())], "Message not found"),
    ]
    for socket, ids, message in refusals:
        assert socket.call("message-delivered", {"messageIds": ids}) == {
            "ok": False, "message": message}
    for data in (None, {}, {"messageIds": []}, {"messageIds": ["nope"]},
                 {"messageIds": [to_carol] * 101}):
        assert carol_socket.call("message-delivered", data)["ok"] is False
    assert db.messages.count_documents({"deliveredAt": {"$ne": None}}) == 0
    # Over HTTP, for a client without a socket: the same rules.
    post = lambda account, ids: realtime_client.post(  # noqa: E731
        "/messages/delivered", json={"messageIds": ids}, headers=auth_header(account))
    assert post(carol, [to_bob]).status_code == 404
    assert post(alice, [to_bob]).status_code == 403
    assert post(carol, []).status_code == 400
    assert db.messages.count_documents({"deliveredAt": {"$ne": None}}) == 0
    delivered = post(carol, [to_carol, to_carol])
    assert delivered.status_code == 200 and delivered.get_json() == {"delivered": [to_carol]}
    assert alice_socket.wait_for("message-delivered")["messageIds"] == [to_carol]


# Seen.

def test_the_seen_mark_only_moves_forward(realtime_client, db, connect):
    alice, bob = make_user(db), make_user(db)
    alice_socket = connect(alice)
    first, second, third = (send(realtime_client, alice, bob, f"m{n}")["_id"] for n in range(3))
    send(realtime_client, bob, alice, "reply")
    marked = mark_seen(realtime_client, bob, alice, second)
    assert marked.status_code == 200
    body = marked.get_json()
    assert body["unseen"] == 1
    assert body["mark"]["upTo"] == second and body["mark"]["readerId"] == str(bob["_id"])
    told = alice_socket.wait_for("messages-seen")
    assert told == {key: body["mark"][key] for key in ("readerId", "senderId", "upTo",
                                                        "seenAt")}
    seen = {str(m["_id"]): m["seen"] for m in db.messages.find({"senderId": alice["_id"]})}
    assert seen == {first: True, second: True, third: False}
    # An older mark changes nothing and answers the mark as it is.
    older = mark_seen(realtime_client, bob, alice, first).get_json()
    assert older["mark"]["upTo"] == second and older["unseen"] == 1
    # Without upTo: up to the newest message received.
    newest = mark_seen(realtime_client, bob, alice).get_json()
    assert newest["mark"]["upTo"] == third and newest["unseen"] == 0
    alice_socket.wait_for("messages-seen", lambda p: p["upTo"] == third)
    assert [p["upTo"] for p in alice_socket.events["messages-seen"]] == [second, third]
    assert db.read_marks.count_documents({}) == 1
    # The reply to alice is hers to mark, not bob's.
    assert db.messages.find_one({"text": "reply"})["seen"] is False


def test_unseen_counts_stay_right_across_two_devices(realtime_client, db, connect):
    alice, bob = make_user(db), make_user(db)
    phone, laptop, alice_socket = connect(bob), connect(bob), connect(alice)
    messages = [send(realtime_client, alice, bob, f"m{n}")["_id"] for n in range(3)]
    for device in (phone, laptop):
        device.wait_for("newMessage", lambda m: m["_id"] == messages[-1])
    counts = realtime_client.get("/messages/users", headers=auth_header(bob)).get_json()
    assert counts["unseen"] == {str(alice["_id"]): 3}
    # The laptop shows two of them: the phone is told, with the count left.
    mark_seen(realtime_client, bob, alice, messages[1], headers={"X-Socket-ID": laptop.sid})
    on_phone = phone.wait_for("messages-seen")
    assert on_phone["readerId"] == str(bob["_id"]) and on_phone["senderId"] == str(alice["_id"])
    assert on_phone["upTo"] == messages[1] and on_phone["unseen"] == 1
    assert "unseen" not in alice_socket.wait_for("messages-seen")
    laptop.settle()
    assert "messages-seen" not in laptop.events  # it made the mark
    counts = realtime_client.get("/messages/users", headers=auth_header(bob)).get_json()
    assert counts["unseen"] == {str(alice["_id"]): 1}
    # The phone reads the rest; the laptop learns it.
    mark_seen(realtime_client, bob, alice, messages[2], headers={"X-Socket-ID": phone.sid})
    assert laptop.wait_for("messages-seen")["unseen"] == 0
    assert sync(realtime_client, bob)["unseen"] == {}


# Typing.

def test_typing_reaches_every_connection_of_the_peer_only(realtime_client, db, connect):
    alice, bob, carol = make_user(db), make_user(db), make_user(db)
    alice_tab, alice_other = connect(alice), connect(alice)
    bob_tabs, carol_tab = [connect(bob), connect(bob)], connect(carol)
    assert alice_tab.call("typing", {"to": str(bob["_id"])}) == {"ok": True}
    for tab in bob_tabs:
        assert tab.wait_for("typing") == {"from": str(alice["_id"]), "active": True}
    assert alice_tab.call("typing", {"to": str(bob["_id"]), "active": False})["ok"]
    bob_tabs[0].wait_for("typing", lambda p: p["active"] is False)
    for bystander in (alice_tab, alice_other, carol_tab):
        bystander.settle()
        assert "typing" not in bystander.events


def test_typing_only_to_accounts_the_chat_allows(db, connect):
    alice, captain, other_captain = make_user(db), make_captain(db), make_captain(db)
    alice_tab, captain_tab = connect(alice), connect(captain, "captain")
    refusals = [
        (alice_tab, {"to": str(alice["_id"])}, "You cannot message yourself"),
        (alice_tab, {"to": str(captain["_id"])},
         "Riders and captains can only message during their ride"),
        (captain_tab, {"to": str(other_captain["_id"])}, "Captains cannot message each other"),
        (alice_tab, {"to": str(ObjectId())}, "User not found"),
        (alice_tab, {"to": "nope"}, "to: Invalid id"),
        (alice_tab, {}, "to: Missing data for required field."),
    ]
    for socket, data, message in refusals:
        assert socket.call("typing", data) == {"ok": False, "message": message}
    captain_tab.settle()
    assert "typing" not in captain_tab.events


def test_typing_is_rate_limited_per_socket(make_realtime_app, app_sockets, db):
    app = make_realtime_app(RATELIMIT_ENABLED=True, SOCKET_EVENT_RATE_LIMIT="1000 per minute",
                            CHAT_TYPING_RATE_LIMIT="3 per minute")
    alice, bob = make_user(db), make_user(db)
    tab, other_tab = app_sockets(app, token_for(alice)), app_sockets(app, token_for(alice))
    bob_tab = app_sockets(app, token_for(bob))
    typing = {"to": str(bob["_id"])}
    assert [tab.call("typing", typing)["ok"] for _ in range(3)] == [True] * 3
    assert tab.call("typing", typing) == {"ok": False,
                                          "message": "Too many typing events, slow down"}
    assert other_tab.call("typing", typing)["ok"]  # a budget per socket
    bob_tab.settle(0.1)
    assert len(bob_tab.events["typing"]) == 4


def test_anonymous_sockets_cannot_use_the_chat_events(realtime_app, db):
    client = socketio.test_client(realtime_app, flask_test_client=realtime_app.test_client(),
                                  headers={"X-Forwarded-For": "127.0.0.1",
                                           "Sec-Fetch-Site": "same-origin"})
    try:
        assert client.is_connected()
        for event, data in (("typing", {"to": str(ObjectId())}),
                            ("send-message", {"to": str(ObjectId()), "text": "hi"}),
                            ("message-delivered", {"messageIds": [str(ObjectId())]})):
            assert client.emit(event, data, callback=True) == {
                "ok": False, "message": "Authentication required"}
    finally:
        client.disconnect()


# Sync.

def sync_all(client, account, since, limit):
    """Every page of a sync from `since`: `(pages, last answer)`."""
    pages = [sync(client, account, since, limit)]
    while pages[-1]["more"]:
        pages.append(sync(client, account, pages[-1]["next"], limit))
    return pages


def test_sync_returns_what_changed_since_a_cursor_page_by_page(realtime_client, db,
                                                               monkeypatch):
    monkeypatch.setattr(chat_service, "SYNC_OVERLAP", timedelta(0))
    alice, bob, eve = make_user(db), make_user(db), make_user(db)
    before = send(realtime_client, alice, bob, "before the cursor")
    start = sync(realtime_client, bob)
    assert start["messages"] == start["marks"] == [] and start["more"] is False
    assert start["unseen"] == {str(alice["_id"]): 1}
    sent = [send(realtime_client, alice, bob, f"m{n}") for n in range(4)]
    reply = send(realtime_client, bob, alice, "reply")
    send(realtime_client, alice, eve, "not bob's")
    realtime_client.post("/messages/delivered", json={"messageIds": [sent[0]["_id"]]},
                         headers=auth_header(bob))
    mark_seen(realtime_client, alice, bob, reply["_id"])
    mark_seen(realtime_client, bob, alice, sent[1]["_id"])

    pages = sync_all(realtime_client, bob, start["next"], limit=2)
    sizes = [len(p["messages"]) + len(p["marks"]) for p in pages]
    assert set(sizes[:-1]) == {2} and sizes[-1] in (1, 2)
    assert [p["more"] for p in pages] == [True] * (len(pages) - 1) + [False]
    # The cursor stands for a second: a change of that second before it may come too.
    found = [m for p in pages for m in p["messages"] if m["_id"] != before["_id"]]
    assert sum(sizes) - len(found) in (2, 3)
    # Each message once, as it is now, in the order of its last change.
    assert [m["text"] for m in found] == ["m1", "m2", "m3", "reply", "m0"]
    assert found[-1]["deliveredAt"] is not None
    assert {m["_id"]: m["seen"] for m in found}[sent[1]["_id"]] is True
    marks = [(m["readerId"], m["upTo"]) for p in pages for m in p["marks"]]
    assert marks == [(str(alice["_id"]), reply["_id"]), (str(bob["_id"]), sent[1]["_id"])]
    assert pages[-1]["unseen"] == {str(alice["_id"]): 2}  # m2 and m3
    # Nothing new since the last cursor (changes of its second may come again); a
    # stranger sees none of it.
    again = sync(realtime_client, bob, pages[-1]["next"])
    assert {m["_id"] for m in again["messages"]} <= {m["_id"] for m in found} | {before["_id"]}
    strange = sync_all(realtime_client, eve, start["next"], limit=50)[0]
    assert [m["text"] for m in strange["messages"]] == ["not bob's"] and not strange["marks"]


def test_the_last_cursor_of_a_sync_starts_a_little_back(realtime_client, db):
    """A change stamped before a sync read it but stored after is still reported: the
    changes of the last SYNC_OVERLAP come again (a client applies them by id)."""
    alice, bob = make_user(db), make_user(db)
    start = sync(realtime_client, bob)
    message = send(realtime_client, alice, bob)
    first = sync(realtime_client, bob, start["next"])
    again = sync(realtime_client, bob, first["next"])
    assert [m["_id"] for m in first["messages"]] == [message["_id"]]
    assert [m["_id"] for m in again["messages"]] == [message["_id"]]


@pytest.mark.parametrize("since", ["nope!", "AAAA", "x" * 40])
def test_a_bad_sync_cursor_is_a_400(realtime_client, db, since):
    response = realtime_client.get("/messages/sync", query_string={"since": since},
                                   headers=auth_header(make_user(db)))
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["param"] == "since"


# Reads.

def test_reading_marks_nothing_natively_but_does_on_quickchat(realtime_client, db, connect):
    alice, bob = make_user(db), make_user(db)
    alice_socket = connect(alice)
    sent = [send(realtime_client, alice, bob, f"m{n}")["_id"] for n in range(2)]
    native = realtime_client.get(f"/messages/{alice['_id']}", headers=auth_header(bob))
    assert [m["seen"] for m in native.get_json()["messages"]] == [False, False]
    alice_socket.settle()
    assert "messages-seen" not in alice_socket.events
    assert db.messages.count_documents({"seen": True}) == 0
    quickchat = realtime_client.get(f"/api/messages/{alice['_id']}",
                                    headers={"token": token_for(bob)})
    assert [m["seen"] for m in quickchat.get_json()["messages"]] == [True, True]
    assert alice_socket.wait_for("messages-seen")["upTo"] == sent[-1]
    assert db.messages.count_documents({"seen": True}) == 2
    assert db.read_marks.find_one()["upTo"] == ObjectId(sent[-1])

"""Sending a chat message over the socket (`send-message`), in process (Flask-SocketIO's
test client): acknowledgements, pushes, the chat's rules, bad input, de-duplication by
`clientMessageId` (one after the other and two at once) and the send budget shared with
the HTTP routes. The group commit under it: test_chat_group_commit.py."""
import gevent
import pytest
from bson import ObjectId

from shared.serialize import now

from ..factories import auth_header, make_captain, make_user, token_for


@pytest.fixture
def connect(realtime_app, app_sockets):
    return lambda account, role="user": app_sockets(realtime_app, token_for(account, role))


def payload(to, text="hi", key=None):
    data = {"to": str(to["_id"]), "text": text}
    if key is not None:
        data["clientMessageId"] = key
    return data


def refused(message):
    return {"ok": False, "message": message}


def test_a_socket_send_is_stored_pushed_and_acknowledged(connect, db):
    alice, bob = make_user(db), make_user(db)
    tab, other_tab, bob_tab = connect(alice), connect(alice), connect(bob)
    ack = tab.call("send-message", payload(bob, "  hello bob ", key="m-1"))
    assert set(ack) == {"ok", "newMessage"} and ack["ok"] is True
    message = ack["newMessage"]
    assert set(message) == {"_id", "senderId", "receiverId", "text", "image", "createdAt",
                            "deliveredAt", "seen"}
    assert message["text"] == "hello bob" and message["image"] is None
    assert message["senderId"] == str(alice["_id"]) and message["receiverId"] == str(bob["_id"])
    assert message["seen"] is False and message["deliveredAt"] is None
    assert bob_tab.wait_for("newMessage") == message
    assert other_tab.wait_for("newMessage") == message  # the sender's other tabs
    tab.settle()
    assert "newMessage" not in tab.events  # not the sending socket: it has the ack
    stored = db.messages.find_one({"_id": ObjectId(message["_id"])})
    assert stored["senderId"] == alice["_id"] and stored["idempotencyKey"] == "m-1"
    # What the HTTP routes show of it.
    listed = bob_tab.app.test_client().get(f"/messages/{alice['_id']}",
                                           headers=auth_header(bob))
    assert listed.get_json()["messages"] == [message]


def test_a_send_without_client_id_is_stored_each_time(connect, db):
    alice, bob = make_user(db), make_user(db)
    tab = connect(alice)
    first, second = (tab.call("send-message", payload(bob, "same")) for _ in range(2))
    assert first["ok"] and second["ok"]
    assert first["newMessage"]["_id"] != second["newMessage"]["_id"]
    assert db.messages.count_documents({}) == 2
    assert "idempotencyKey" not in db.messages.find_one()


def test_the_chat_rules_apply(connect, db):
    rider, captain, other_captain = make_user(db), make_captain(db), make_captain(db)
    rider_tab, captain_tab = connect(rider), connect(captain, "captain")
    cases = [
        (rider_tab, payload(rider), "You cannot message yourself"),
        (rider_tab, {"to": str(ObjectId()), "text": "hi"}, "User not found"),
        (rider_tab, payload(captain), "Riders and captains can only message during their ride"),
        (captain_tab, payload(rider), "Riders and captains can only message during their ride"),
        (captain_tab, payload(other_captain), "Captains cannot message each other"),
    ]
    for tab, data, message in cases:
        assert tab.call("send-message", data) == refused(message)
        assert tab.wait_for("error") == {"message": message}
        tab.forget("error")
    assert db.messages.count_documents({}) == 0
    db.rides.insert_one({"user": rider["_id"], "captain": captain["_id"],
                         "status": "accepted", "createdAt": now()})
    assert rider_tab.call("send-message", payload(captain, "where are you?"))["ok"]
    assert captain_tab.wait_for("newMessage")["text"] == "where are you?"
    assert captain_tab.call("send-message", payload(rider, "outside"))["ok"]
    assert db.messages.count_documents({}) == 2


@pytest.mark.parametrize("data, message", [
    (None, "Expected a JSON object"),
    (["to", "text"], "Expected a JSON object"),
    ({}, "to: Missing data for required field.; text: Missing data for required field."),
    ({"to": "nope", "text": "hi"}, "to: Invalid id"),
    ({"to": "OTHER", "text": "   "}, "text: Message text must be 1-2000 characters long"),
    ({"to": "OTHER", "text": "x" * 2001}, "text: Message text must be 1-2000 characters long"),
    ({"to": "OTHER", "text": 5}, "text: Not a valid string."),
    ({"to": "OTHER", "text": "hi", "clientMessageId": 'a"b'},
     "clientMessageId: clientMessageId must be 1-200 visible ASCII characters (no quote or "
     "backslash)"),
    ({"to": "OTHER", "text": "hi", "clientMessageId": "k" * 201},
     "clientMessageId: clientMessageId must be 1-200 visible ASCII characters (no quote or "
     "backslash)"),
])
def test_bad_input_is_refused_and_stores_nothing(connect, db, data, message):
    alice, bob = make_user(db), make_user(db)
    if isinstance(data, dict) and data.get("to") == "OTHER":
        data = {**data, "to": str(bob["_id"])}
    tab, bob_tab = connect(alice), connect(bob)
    ack = tab.call("send-message", data)
    assert ack["ok"] is False and ack["message"] == message
    assert db.messages.count_documents({}) == 0
    bob_tab.settle()
    assert "newMessage" not in bob_tab.events


def test_anonymous_sockets_cannot_send(realtime_app, db):
    from realtime_service.extensions import socketio

    client = socketio.test_client(realtime_app, flask_test_client=realtime_app.test_client(),
                                  headers={"X-Forwarded-For": "127.0.0.1",
                                           "Sec-Fetch-Site": "same-origin"})
    try:
        assert client.is_connected()
        ack = client.emit("send-message", {"to": str(ObjectId()), "text": "hi"}, callback=True)
        assert ack == refused("Authentication required")
    finally:
        client.disconnect()
    assert db.messages.count_documents({}) == 0


# De-duplication by clientMessageId.

def test_a_retry_returns_the_stored_message_and_pushes_nothing(connect, db):
    alice, bob = make_user(db), make_user(db)
    tab, bob_tab = connect(alice), connect(bob)
    first = tab.call("send-message", payload(bob, "once", key="retry-me"))
    again = tab.call("send-message", payload(bob, "once", key="retry-me"))
    assert first["ok"] and again == first
    bob_tab.settle(0.1)
    assert len(bob_tab.events["newMessage"]) == 1
    assert db.messages.count_documents({}) == 1
    # Another sender may use the same id.
    carol = make_user(db)
    assert connect(carol).call("send-message", payload(bob, "once", key="retry-me"))["ok"]
    assert db.messages.count_documents({}) == 2


def test_a_client_id_reused_for_another_message_is_refused(connect, db):
    alice, bob, carol = make_user(db), make_user(db), make_user(db)
    tab = connect(alice)
    assert tab.call("send-message", payload(bob, "first", key="k1"))["ok"]
    assert tab.call("send-message", payload(bob, "second", key="k1")) == refused(
        "This clientMessageId was used for another message")
    assert tab.call("send-message", payload(carol, "first", key="k1")) == refused(
        "This clientMessageId was used for another conversation")
    assert db.messages.count_documents({}) == 1


def test_a_retry_after_the_conversation_closed_still_gets_its_message(connect, db):
    rider, captain = make_user(db), make_captain(db)
    ride = db.rides.insert_one({"user": rider["_id"], "captain": captain["_id"],
                                "status": "ongoing", "createdAt": now()}).inserted_id
    tab = connect(rider)
    first = tab.call("send-message", payload(captain, "here", key="late"))
    db.rides.update_one({"_id": ride}, {"$set": {"status": "completed"}})
    assert tab.call("send-message", payload(captain, "here", key="late")) == first
    assert tab.call("send-message", payload(captain, "here", key="new")) == refused(
        "Riders and captains can only message during their ride")


def test_the_http_key_and_the_client_id_share_one_namespace(connect, realtime_client, db):
    alice, bob = make_user(db), make_user(db)
    sent = connect(alice).call("send-message", payload(bob, "hi", key="shared-1"))
    assert sent["ok"]
    response = realtime_client.post(f"/messages/send/{bob['_id']}", json={"text": "hi"},
                                    headers={**auth_header(alice), "Idempotency-Key": "shared-1"})
    assert response.status_code == 201
    assert response.get_json()["newMessage"]["_id"] == sent["newMessage"]["_id"]
    assert db.messages.count_documents({}) == 1


def test_two_sends_with_one_client_id_at_once_store_one_message(connect, db):
    alice, bob = make_user(db), make_user(db)
    tabs, bob_tab = [connect(alice), connect(alice)], connect(bob)
    data = payload(bob, "at once", key="twice")
    calls = [gevent.spawn(tab.call, "send-message", data) for tab in tabs]
    gevent.joinall(calls, raise_error=True)
    first, second = (call.value for call in calls)
    assert first["ok"] and second == first
    assert db.messages.count_documents({}) == 1
    bob_tab.settle(0.1)
    assert len(bob_tab.events["newMessage"]) == 1


# The send budget (CHAT_SEND_RATE_LIMIT), shared with the HTTP routes.

def test_sends_spend_the_accounts_budget_on_every_route(make_realtime_app, app_sockets, db):
    app = make_realtime_app(RATELIMIT_ENABLED=True, SOCKET_EVENT_RATE_LIMIT="1000 per minute",
                            CHAT_SEND_RATE_LIMIT="3 per minute")
    alice, bob, carol = make_user(db), make_user(db), make_user(db)
    tab, other_tab = app_sockets(app, token_for(alice)), app_sockets(app, token_for(alice))
    assert tab.call("send-message", payload(bob))["ok"]
    assert other_tab.call("send-message", payload(bob))["ok"]
    client = app.test_client()
    assert client.post(f"/messages/send/{bob['_id']}", json={"text": "hi"},
                       headers=auth_header(alice)).status_code == 201
    too_many = refused("Too many messages, try again later")
    assert tab.call("send-message", payload(bob)) == too_many
    assert other_tab.call("send-message", payload(bob)) == too_many
    assert client.post(f"/messages/send/{bob['_id']}", json={"text": "hi"},
                       headers=auth_header(alice)).status_code == 429
    assert db.messages.count_documents({}) == 3
    # Another account has a budget of its own.
    assert app_sockets(app, token_for(carol)).call("send-message", payload(bob))["ok"]


def test_sends_count_as_socket_events(make_realtime_app, app_sockets, db):
    app = make_realtime_app(RATELIMIT_ENABLED=True, SOCKET_EVENT_RATE_LIMIT="2 per minute",
                            CHAT_SEND_RATE_LIMIT="100 per minute")
    alice, bob = make_user(db), make_user(db)
    tab = app_sockets(app, token_for(alice))
    assert [tab.call("send-message", payload(bob))["ok"] for _ in range(2)] == [True, True]
    assert tab.call("send-message", payload(bob)) == refused("Too many events, try again later")

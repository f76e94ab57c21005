"""Chat routes: shapes, paging, images and who may talk to whom. Delivery states, seen
marks, typing and the sync: test_chat_states.py."""
import base64
from datetime import timedelta

import pytest
from bson import ObjectId

from shared.serialize import now

from ..auth_api import PNG_1PX
from ..factories import auth_header, make_captain, make_user, token_for

PNG = base64.b64encode(PNG_1PX).decode()  # a real image: stored images are decoded


def send(client, sender, receiver, role="user", **body):
    return client.post(f"/messages/send/{receiver['_id']}", json=body or {"text": "hi"},
                       headers=auth_header(sender, role))


def make_ride(db, rider, captain, status):
    return db.rides.insert_one({"user": rider["_id"], "captain": captain["_id"],
                                "status": status, "createdAt": now()}).inserted_id


def mark_seen(client, reader, sender, up_to=None, role="user"):
    return client.post(f"/messages/{sender['_id']}/seen", headers=auth_header(reader, role),
                       json={} if up_to is None else {"upTo": up_to})


def test_send_then_read_a_conversation(realtime_client, db):
    alice, bob = make_user(db), make_user(db)
    response = send(realtime_client, alice, bob, text="  hello bob ")
    assert response.status_code == 201
    body = response.get_json()
    message = body["newMessage"]
    assert set(body) == {"newMessage"}
    assert set(message) == {"_id", "senderId", "receiverId", "text", "image", "createdAt",
                            "deliveredAt", "seen"}
    assert message["text"] == "hello bob" and message["image"] is None
    assert message["senderId"] == str(alice["_id"]) and message["seen"] is False
    assert message["deliveredAt"] is None
    stored = db.messages.find_one({"_id": ObjectId(message["_id"])})
    assert stored["receiverId"] == bob["_id"]
    send(realtime_client, bob, alice, text="hi alice")

    listed = realtime_client.get(f"/messages/{alice['_id']}", headers=auth_header(bob))
    assert listed.status_code == 200
    body = listed.get_json()
    assert set(body) == {"messages", "next"} and body["next"] is None
    assert [m["text"] for m in body["messages"]] == ["hello bob", "hi alice"]
    # Reading changes nothing: the seen mark does.
    assert db.messages.count_documents({"seen": True}) == 0
    assert db.read_marks.count_documents({}) == 0


def test_sidebar_lists_other_users_and_unseen_counts(realtime_client, db):
    alice, bob, carol = make_user(db), make_user(db), make_user(db)
    for _ in range(3):
        send(realtime_client, bob, alice)
    send(realtime_client, carol, alice)
    send(realtime_client, alice, bob)
    response = realtime_client.get("/messages/users", headers=auth_header(alice))
    body = response.get_json()
    assert response.status_code == 200 and set(body) == {"users", "unseen"}
    ids = {user["_id"] for user in body["users"]}
    assert ids == {str(bob["_id"]), str(carol["_id"])}
    assert all("password" not in u and "email" not in u for u in body["users"])
    assert body["unseen"] == {str(bob["_id"]): 3, str(carol["_id"]): 1}
    realtime_client.get(f"/messages/{bob['_id']}", headers=auth_header(alice))
    unchanged = realtime_client.get("/messages/users", headers=auth_header(alice)).get_json()
    assert unchanged["unseen"] == body["unseen"]
    assert mark_seen(realtime_client, alice, bob).status_code == 200
    after = realtime_client.get("/messages/users", headers=auth_header(alice)).get_json()
    assert after["unseen"] == {str(carol["_id"]): 1}


def test_conversation_paging(realtime_client, db):
    alice, bob = make_user(db), make_user(db)
    for n in range(5):
        send(realtime_client, alice, bob, text=f"m{n}")
    first = realtime_client.get(f"/messages/{alice['_id']}?limit=2",
                                headers=auth_header(bob)).get_json()
    assert [m["text"] for m in first["messages"]] == ["m3", "m4"]
    second = realtime_client.get(f"/messages/{alice['_id']}?limit=2&before={first['next']}",
                                 headers=auth_header(bob)).get_json()
    assert [m["text"] for m in second["messages"]] == ["m1", "m2"]
    last = realtime_client.get(f"/messages/{alice['_id']}?limit=2&before={second['next']}",
                               headers=auth_header(bob)).get_json()
    assert [m["text"] for m in last["messages"]] == ["m0"] and last["next"] is None
    bad = realtime_client.get(f"/messages/{alice['_id']}?limit=0&before=nope",
                              headers=auth_header(bob))
    assert bad.status_code == 400
    assert {e["param"] for e in bad.get_json()["errors"]} == {"limit"}
    bad = realtime_client.get(f"/messages/{alice['_id']}?before=nope", headers=auth_header(bob))
    assert bad.get_json()["errors"] == [{"msg": "Invalid id", "param": "before",
                                         "location": "query"}]


@pytest.mark.parametrize("body, param", [
    ({}, "text"),
    ({"text": "   "}, "text"),
    ({"text": "x" * 2001}, "text"),
    ({"text": 42}, "text"),
    ({"image": "data:image/png;base64,bm90IGFuIGltYWdl"}, "image"),
    ({"image": "https://example.com/cat.png"}, "image"),
])
def test_send_validation(realtime_client, db, body, param):
    alice, bob = make_user(db), make_user(db)
    response = realtime_client.post(f"/messages/send/{bob['_id']}", json=body,
                                    headers=auth_header(alice))
    assert response.status_code == 400
    assert param in {e["param"] for e in response.get_json()["errors"]}
    assert db.messages.count_documents({}) == 0


def test_send_to_bad_unknown_or_self(realtime_client, db):
    alice = make_user(db)
    headers = auth_header(alice)
    assert realtime_client.post("/messages/send/xyz", json={"text": "a"},
                                headers=headers).status_code == 400
    unknown = realtime_client.post(f"/messages/send/{ObjectId()}", json={"text": "a"},
                                   headers=headers)
    assert unknown.status_code == 404
    assert send(realtime_client, alice, alice).status_code == 400
    assert realtime_client.post(f"/messages/send/{alice['_id']}", data="text",
                                headers=headers).status_code == 415


def test_image_message_is_stored_in_gridfs(realtime_client, db):
    alice, bob = make_user(db), make_user(db)
    response = send(realtime_client, alice, bob, image=f"data:image/png;base64,{PNG}")
    assert response.status_code == 201
    message = response.get_json()["newMessage"]
    assert message["text"] is None and message["image"].startswith("/media/")
    file_id = ObjectId(message["image"].rsplit("/", 1)[1])
    stored = db["media.files"].find_one({"_id": file_id})
    assert stored["metadata"] == {"contentType": "image/png", "owner": str(alice["_id"])}


def test_every_route_needs_a_valid_token(realtime_client, db):
    alice, bob = make_user(db), make_user(db)
    message_id = send(realtime_client, alice, bob).get_json()["newMessage"]["_id"]
    routes = [("get", "/messages/users"), ("get", f"/messages/{bob['_id']}"),
              ("post", f"/messages/{alice['_id']}/seen"), ("post", "/messages/delivered"),
              ("get", "/messages/sync"), ("post", f"/messages/send/{bob['_id']}")]
    revoked = token_for(alice)
    db.users.update_one({"_id": alice["_id"]}, {"$inc": {"tokenVersion": 1}})
    for method, path in routes:
        for headers in ({}, {"Authorization": "Bearer nope"},
                        {"Authorization": f"Bearer {revoked}"}):
            response = getattr(realtime_client, method)(
                path, json={"text": "x", "messageIds": [message_id]}, headers=headers)
            assert response.status_code == 401, (method, path, headers)
    # The compatible `token` cookie works too.
    realtime_client.set_cookie("token", token_for(bob))
    assert realtime_client.get("/messages/users").status_code == 200


def test_the_native_api_has_no_per_message_mark(realtime_client, db):
    alice, bob = make_user(db), make_user(db)
    message_id = send(realtime_client, alice, bob).get_json()["newMessage"]["_id"]
    response = realtime_client.put(f"/messages/mark/{message_id}", headers=auth_header(bob))
    assert response.status_code in (404, 405)
    assert db.messages.find_one({"_id": ObjectId(message_id)})["seen"] is False


def test_a_user_cannot_read_or_mark_another_pairs_messages(realtime_client, db):
    alice, bob, eve = make_user(db), make_user(db), make_user(db)
    message_id = send(realtime_client, alice, bob, text="secret").get_json()["newMessage"]["_id"]
    # eve asking for alice's conversation gets her own (empty) one with alice.
    response = realtime_client.get(f"/messages/{alice['_id']}", headers=auth_header(eve))
    assert response.status_code == 200 and response.get_json()["messages"] == []
    assert mark_seen(realtime_client, eve, alice, message_id).status_code == 404
    assert mark_seen(realtime_client, eve, alice).status_code == 404  # nothing from alice
    assert mark_seen(realtime_client, alice, bob, message_id).status_code == 403
    assert mark_seen(realtime_client, bob, eve, message_id).status_code == 404  # wrong sender
    assert db.messages.find_one({"_id": ObjectId(message_id)})["seen"] is False
    marked = mark_seen(realtime_client, bob, alice, message_id)
    assert marked.status_code == 200
    assert marked.get_json()["mark"]["upTo"] == message_id
    assert db.messages.find_one({"_id": ObjectId(message_id)})["seen"] is True
    # Again is fine; unknown and malformed ids.
    assert mark_seen(realtime_client, bob, alice, message_id).status_code == 200
    assert mark_seen(realtime_client, bob, alice, str(ObjectId())).status_code == 404
    bad = mark_seen(realtime_client, bob, alice, "123")
    assert bad.status_code == 400 and bad.get_json()["errors"][0]["param"] == "upTo"
    assert realtime_client.post("/messages/123/seen", json={},
                                headers=auth_header(bob)).status_code == 400


def test_rider_and_captain_chat_only_during_their_ride(realtime_client, db):
    rider, captain, other_captain = make_user(db), make_captain(db), make_captain(db)
    assert send(realtime_client, rider, captain).status_code == 403
    assert send(realtime_client, captain, rider, role="captain").status_code == 403
    assert realtime_client.get(f"/messages/{captain['_id']}",
                               headers=auth_header(rider)).status_code == 403
    ride_id = make_ride(db, rider, captain, "accepted")
    assert send(realtime_client, rider, captain, text="where are you?").status_code == 201
    db.rides.update_one({"_id": ride_id}, {"$set": {"status": "ongoing"}})
    assert send(realtime_client, captain, rider, role="captain",
                text="outside").status_code == 201
    sidebar = realtime_client.get("/messages/users",
                                  headers=auth_header(captain, "captain")).get_json()
    assert [u["_id"] for u in sidebar["users"]] == [str(rider["_id"])]
    assert sidebar["unseen"] == {str(rider["_id"]): 1}
    db.rides.update_one({"_id": ride_id}, {"$set": {"status": "completed"}})
    assert send(realtime_client, rider, captain).status_code == 403
    # Their history stays readable to both.
    read = realtime_client.get(f"/messages/{rider['_id']}",
                               headers=auth_header(captain, "captain"))
    assert [m["text"] for m in read.get_json()["messages"]] == ["where are you?", "outside"]
    # Another captain, and captains among themselves: never.
    assert realtime_client.get(f"/messages/{rider['_id']}",
                               headers=auth_header(other_captain, "captain")).status_code == 403
    assert send(realtime_client, captain, other_captain, role="captain").status_code == 403
    assert realtime_client.get("/messages/users", headers=auth_header(
        other_captain, "captain")).get_json()["users"] == []


def test_cancelled_or_pending_ride_does_not_open_the_chat(realtime_client, db):
    rider, captain = make_user(db), make_captain(db)
    make_ride(db, rider, captain, "cancelled")
    make_ride(db, rider, captain, "pending")
    assert send(realtime_client, rider, captain).status_code == 403


def test_unseen_counts_ignore_old_seen_and_own_messages(realtime_client, db):
    alice, bob = make_user(db), make_user(db)
    db.messages.insert_one({"senderId": bob["_id"], "receiverId": alice["_id"], "text": "old",
                            "image": None, "seen": True,
                            "createdAt": now() - timedelta(days=1)})
    send(realtime_client, alice, bob)
    body = realtime_client.get("/messages/users", headers=auth_header(alice)).get_json()
    assert body["unseen"] == {}


def test_browsers_may_send_x_socket_id_cross_origin(realtime_client):
    response = realtime_client.options("/messages/send/" + str(ObjectId()), headers={
        "Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, x-socket-id"})
    assert "x-socket-id" in response.headers["Access-Control-Allow-Headers"].lower()

"""`Idempotency-Key` on the native write routes (POST /rides, POST /messages/send/<id>)
and QuickChat's send: a retry answers the first success and does nothing else, another
request with the key is a 422, two at once run once, keys are the account's, and the
keys are kept with a TTL index."""
import threading
from datetime import timedelta

import pytest

from realtime_service.chat import service as chat_service
from realtime_service.rides import service as ride_service
from shared.idempotency import decorator
from shared.serialize import now

from ..factories import auth_header, make_user
from ..rides_support import ride_body
from ..waiting import wait_until


def post(client, path, account, key=None, **body):
    headers = auth_header(account)
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(path, json=body, headers=headers)


def send(client, sender, receiver, key=None, text="hi"):
    return post(client, f"/messages/send/{receiver['_id']}", sender, key, text=text)


def request_ride(client, rider, key=None, **overrides):
    return post(client, "/rides", rider, key, **{**ride_body(), **overrides})


def test_a_retried_send_answers_the_first_and_stores_and_pushes_nothing(
        realtime_app, realtime_client, db, app_sockets):
    from ..factories import token_for

    alice, bob = make_user(db), make_user(db)
    listener = app_sockets(realtime_app, token_for(bob))
    first = send(realtime_client, alice, bob, key="k-1")
    again = send(realtime_client, alice, bob, key="k-1")
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert db.messages.count_documents({}) == 1
    listener.settle(0.1)
    assert len(listener.events["newMessage"]) == 1


def test_a_retried_ride_request_answers_the_first_and_creates_nothing(realtime_client, db):
    rider = make_user(db)
    first = request_ride(realtime_client, rider, key="ride-1")
    again = request_ride(realtime_client, rider, key="ride-1")
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert db.rides.count_documents({}) == 1
    # Without the key, the retry is another request, refused: the first ride is still
    # open (pending, searching for a captain).
    assert request_ride(realtime_client, rider).status_code == 409
    assert db.rides.count_documents({}) == 1


def test_the_same_key_with_another_request_is_a_422(realtime_client, db):
    alice, bob, carol = make_user(db), make_user(db), make_user(db)
    assert send(realtime_client, alice, bob, key="k", text="one").status_code == 201
    other_body = send(realtime_client, alice, bob, key="k", text="two")
    other_path = send(realtime_client, alice, carol, key="k", text="one")
    for response in (other_body, other_path):
        assert response.status_code == 422
        assert response.get_json() == {"message": decorator.MISMATCH}
    assert db.messages.count_documents({}) == 1
    # The body's JSON, not its spelling: the same fields in another order are the same.
    again = realtime_client.post(f"/messages/send/{bob['_id']}", data='{ "text" : "one" }',
                                 content_type="application/json",
                                 headers={**auth_header(alice), "Idempotency-Key": "k"})
    assert again.status_code == 201


def test_a_key_is_the_account_s_own(realtime_client, db):
    alice, bob, carol = make_user(db), make_user(db), make_user(db)
    first = send(realtime_client, alice, carol, key="shared")
    other = send(realtime_client, bob, carol, key="shared")
    assert first.status_code == other.status_code == 201
    assert other.get_json()["newMessage"]["_id"] != first.get_json()["newMessage"]["_id"]
    assert db.messages.count_documents({}) == 2
    rides = [request_ride(realtime_client, rider, key="ride") for rider in (alice, bob)]
    assert [r.status_code for r in rides] == [201, 201]
    assert db.rides.count_documents({}) == 2
    # One key of one account names one request, whatever the route.
    assert request_ride(realtime_client, make_user(db), key="shared").status_code == 201
    assert request_ride(realtime_client, alice, key="shared").status_code == 422


def test_an_answer_that_is_not_a_success_releases_the_key(realtime_client, db):
    alice, bob = make_user(db), make_user(db)
    invalid = send(realtime_client, alice, bob, key="k", text="  ")
    assert invalid.status_code == 400
    assert send(realtime_client, alice, bob, key="k", text="fixed").status_code == 201
    rider = make_user(db)
    db.rides.insert_one({"user": rider["_id"], "status": "accepted", "createdAt": now()})
    refused = request_ride(realtime_client, rider, key="r")
    assert refused.status_code == 409  # one open ride per rider
    db.rides.update_many({}, {"$set": {"status": "cancelled"}})
    assert request_ride(realtime_client, rider, key="r").status_code == 201


@pytest.mark.parametrize("key", ["", "x" * 201, "two words", 'a"b', "back\\slash", "é"])
def test_an_unusable_key_is_a_400(realtime_client, db, key):
    alice, bob = make_user(db), make_user(db)
    response = send(realtime_client, alice, bob, key=key)
    assert response.status_code == 400
    assert response.get_json()["errors"] == [{"msg": decorator.KEY_RULE,
                                              "param": "Idempotency-Key",
                                              "location": "headers"}]
    assert request_ride(realtime_client, alice, key=key).status_code == 400
    assert db.messages.count_documents({}) == db.rides.count_documents({}) == 0


def test_a_structured_field_string_is_its_content(realtime_client, db):
    alice, bob = make_user(db), make_user(db)
    first = send(realtime_client, alice, bob, key='"8e03978e-40d5-43e8"')
    again = send(realtime_client, alice, bob, key="8e03978e-40d5-43e8")
    assert again.get_json() == first.get_json() and again.headers["Idempotent-Replayed"]


def blocking(monkeypatch, module, name):
    """Make `module.name` wait for `release` once it started; count its calls."""
    started, release, calls = threading.Event(), threading.Event(), []
    original = getattr(module, name)

    def run(*args, **kwargs):
        calls.append(args)
        started.set()
        release.wait(10)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, run)
    return started, release, calls


def in_thread(call):
    """Run `call` in a thread; a list that will hold its result."""
    result = []
    thread = threading.Thread(target=lambda: result.append(call()), daemon=True)
    thread.start()
    return thread, result


def test_a_request_arriving_while_the_first_runs_waits_for_its_answer(realtime_app, db,
                                                                       monkeypatch):
    rider = make_user(db)
    started, release, calls = blocking(monkeypatch, ride_service, "request_ride")
    finds = []
    find = decorator.idempotency_keys.find
    monkeypatch.setattr(decorator.idempotency_keys, "find",
                        lambda *args: finds.append(1) or find(*args))
    first, first_result = in_thread(lambda: request_ride(realtime_app.test_client(), rider,
                                                         key="k"))
    assert started.wait(10)
    second, second_result = in_thread(lambda: request_ride(realtime_app.test_client(), rider,
                                                           key="k"))
    wait_until(lambda: finds, what="the second request waiting")
    release.set()
    first.join(10)
    second.join(10)
    assert first_result[0].status_code == second_result[0].status_code == 201
    assert second_result[0].get_json() == first_result[0].get_json()
    assert len(calls) == 1 and db.rides.count_documents({}) == 1


def test_one_still_running_after_the_wait_is_a_409(realtime_app, db, monkeypatch):
    alice, bob = make_user(db), make_user(db)
    started, release, calls = blocking(monkeypatch, chat_service, "send")
    monkeypatch.setattr(decorator, "WAIT_SECONDS", 0)
    first, first_result = in_thread(lambda: send(realtime_app.test_client(), alice, bob,
                                                 key="k"))
    assert started.wait(10)
    busy = send(realtime_app.test_client(), alice, bob, key="k")
    assert busy.status_code == 409 and busy.headers["Retry-After"] == "1"
    assert busy.get_json() == {"message": decorator.IN_PROGRESS}
    release.set()
    first.join(10)
    assert first_result[0].status_code == 201
    later = send(realtime_app.test_client(), alice, bob, key="k")
    assert later.get_json() == first_result[0].get_json()
    assert len(calls) == 1 and db.messages.count_documents({}) == 1


def test_many_at_once_with_one_key_run_once(realtime_app, db):
    rider = make_user(db)
    answers = []
    barrier = threading.Barrier(6)

    def one():
        client = realtime_app.test_client()
        barrier.wait(10)
        answers.append(request_ride(client, rider, key="burst"))

    threads = [threading.Thread(target=one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    statuses = [answer.status_code for answer in answers]
    assert len(answers) == 6 and set(statuses) <= {201, 409} and 201 in statuses
    assert len({answer.get_data() for answer in answers if answer.status_code == 201}) == 1
    assert db.rides.count_documents({}) == 1


def test_a_key_held_by_a_request_that_died_is_taken_over(realtime_client, db, monkeypatch):
    """Its lease ran out (another process), or it was this process's and no longer
    runs: the retry runs again, and the message's own key keeps it from storing twice."""
    monkeypatch.setattr(decorator, "WAIT_SECONDS", 0)
    alice, bob = make_user(db), make_user(db)
    first = send(realtime_client, alice, bob, key="k")
    running = {"state": "running", "owner": "gone"}
    db.idempotency_keys.update_one({}, {"$set": {
        **running, "process": "elsewhere", "lockedUntil": first_time(db) + timedelta(hours=1)}})
    assert send(realtime_client, alice, bob, key="k").status_code == 409  # its lease holds
    held = first_time(db) + timedelta(hours=1)
    for stale in ({"process": "elsewhere", "lockedUntil": first_time(db)},
                  {"process": decorator.new_holder()["process"], "lockedUntil": held}):
        db.idempotency_keys.update_one({}, {"$set": {**running, **stale}})
        again = send(realtime_client, alice, bob, key="k")
        assert again.status_code == 201
        assert again.get_json()["newMessage"]["_id"] == first.get_json()["newMessage"]["_id"]
    assert db.messages.count_documents({}) == 1


def test_a_graceful_stop_releases_the_keys_its_process_holds(realtime_app, realtime_client,
                                                               db):
    alice, bob = make_user(db), make_user(db)
    send(realtime_client, alice, bob, key="mine")
    send(realtime_client, alice, bob, key="other")
    process = decorator.new_holder()["process"]
    db.idempotency_keys.update_one({"key": "mine"}, {"$set": {"state": "running",
                                                             "process": process}})
    db.idempotency_keys.update_one({"key": "other"}, {"$set": {"state": "running",
                                                              "process": "elsewhere"}})
    decorator.release_held(realtime_app)
    assert [entry["key"] for entry in db.idempotency_keys.find()] == ["other"]


def first_time(db):
    return db.idempotency_keys.find_one()["createdAt"]


def test_keys_are_kept_a_day_under_a_ttl_index(realtime_client, db):
    alice, bob = make_user(db), make_user(db)
    send(realtime_client, alice, bob, key="kept")
    entry = db.idempotency_keys.find_one()
    assert entry["account"] == alice["_id"] and entry["key"] == "kept"
    assert entry["state"] == "done" and entry["status"] == 201
    assert entry["expiresAt"] - entry["createdAt"] == timedelta(hours=24)
    indexes = db.idempotency_keys.index_information()
    assert indexes["expiry"]["key"] == [("expiresAt", 1)]
    assert indexes["expiry"]["expireAfterSeconds"] == 0
    assert indexes["account_key"]["unique"] is True


def test_quickchat_s_send_takes_the_key_too(realtime_client, db):
    alice, bob = make_user(db), make_user(db)
    path = f"/api/messages/send/{bob['_id']}"
    first = post(realtime_client, path, alice, "q", text="hi")
    again = post(realtime_client, path, alice, "q", text="hi")
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json() and "newMessage" in first.get_json()
    other = post(realtime_client, path, alice, "q", text="another")
    assert other.status_code == 422 and other.get_json()["success"] is False
    assert db.messages.count_documents({"senderId": alice["_id"]}) == 1


def test_the_spec_documents_the_header_and_its_answers(realtime_app):
    paths = realtime_app.extensions["api"].spec.to_dict()["paths"]
    for path in ("/rides", "/messages/send/{other_id}"):
        operation = paths[path]["post"]
        assert {"409", "422"} <= set(operation["responses"])
        header = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
        assert header and header[0]["in"] == "header"
    assert not [p for p in paths["/rides/{ride_id}/accept"]["post"].get("parameters", [])
                if p.get("name") == "Idempotency-Key"]


def test_after_a_day_a_message_s_key_still_refuses_another_conversation(realtime_client, db):
    """The message stores its key: once the TTL index dropped the key's entry, a reuse
    for another receiver is refused (409), one for the same answers that message."""
    alice, bob, carol = make_user(db), make_user(db), make_user(db)
    send(realtime_client, alice, bob, key="old")
    db.idempotency_keys.delete_many({})  # as the TTL index does after a day
    response = send(realtime_client, alice, carol, key="old")
    assert response.status_code == 409
    assert db.messages.count_documents({"receiverId": carol["_id"]}) == 0
    assert send(realtime_client, alice, bob, key="old").status_code == 201
    assert db.messages.count_documents({}) == 1


def test_browsers_may_send_the_key_cross_origin_and_read_the_replay(realtime_client, db):
    preflight = realtime_client.options("/rides", headers={
        "Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, idempotency-key"})
    assert "idempotency-key" in preflight.headers["Access-Control-Allow-Headers"].lower()
    alice, bob = make_user(db), make_user(db)
    headers = {**auth_header(alice), "Idempotency-Key": "k", "Origin": "http://localhost:5173"}
    for _ in range(2):
        replay = realtime_client.post(f"/messages/send/{bob['_id']}", json={"text": "hi"},
                                      headers=headers)
    exposed = replay.headers["Access-Control-Expose-Headers"].lower()
    assert replay.headers["Idempotent-Replayed"] == "true" and "idempotent-replayed" in exposed

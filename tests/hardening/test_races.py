"""Races not covered by test_auth_concurrency.py and test_rides_races.py (duplicate
registrations, one refresh token, fifty captains accepting): concurrent seen marks,
accept against cancel, start against cancel, and concurrent senders, with threads
against the served realtime process. The invariants hold whoever wins."""
import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests
from bson import ObjectId

from ..factories import auth_header, make_captain, make_user, token_for
from ..sockets import RecordingClient
from .test_authorization import insert_ride


def run_together(calls):
    """Run the callables at the same moment (a barrier), return their results in order."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        with requests.Session() as session:
            barrier.wait()
            return call(session)

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def call(method, url, headers, **kwargs):
    """A request to make later, with a session: `run_together([call(...), ...])`."""
    return lambda session: session.request(method, url, headers=headers, **kwargs)


def test_concurrent_seen_marks_end_at_the_newest_and_never_move_back(served_realtime, db):
    url = served_realtime.url
    alice, bob = make_user(db), make_user(db)
    as_alice = auth_header(alice)
    sent = [requests.post(f"{url}/messages/send/{alice['_id']}", headers=auth_header(bob),
                          json={"text": f"m{n}"}).json()["newMessage"]["_id"] for n in range(20)]
    watcher = RecordingClient().connect(url, token_for(bob))
    try:
        calls = [call("POST", f"{url}/messages/{bob['_id']}/seen", as_alice, json={"upTo": m})
                 for m in sent for _ in "ab"]
        responses = run_together(calls)
        assert {r.status_code for r in responses} == {200}
        # each answer's mark is at or past what it asked for
        for response in responses:
            asked = json.loads(response.request.body)["upTo"]
            assert response.json()["mark"]["upTo"] >= asked
        assert db.read_marks.find_one({"readerId": alice["_id"]})["upTo"] == ObjectId(sent[-1])
        assert db.messages.count_documents({"receiverId": alice["_id"], "seen": False}) == 0
        sidebar = requests.get(f"{url}/messages/users", headers=as_alice).json()
        assert sidebar["unseen"] == {}
        # the sender hears of every move once, the last one at the newest message
        watcher.wait_for("messages-seen", lambda p: p["upTo"] == sent[-1], timeout=5)
        moves = [event["upTo"] for event in watcher.events["messages-seen"]]
        assert len(moves) == len(set(moves)) and max(moves) == sent[-1]
        read = requests.get(f"{url}/messages/{bob['_id']}", headers=as_alice).json()
        assert all(m["seen"] for m in read["messages"])
    finally:
        watcher.disconnect()


def test_accept_against_cancel_has_one_consistent_outcome(served_realtime, db):
    url = served_realtime.url
    for _ in range(5):
        rider = make_user(db)
        captains = [make_captain(db) for _ in range(8)]
        ride_id = insert_ride(db, rider, "pending", dispatched=captains)
        calls = [call("POST", f"{url}/rides/{ride_id}/accept", auth_header(c, "captain"))
                 for c in captains]
        calls.append(call("POST", f"{url}/rides/{ride_id}/cancel", auth_header(rider)))
        responses = run_together(calls)
        accepts, cancel = responses[:-1], responses[-1]
        codes = Counter(r.status_code for r in accepts)
        assert set(codes) <= {200, 409} and codes[200] <= 1
        assert cancel.status_code in (200, 409)
        ride = db.rides.find_one({"_id": ride_id})
        winner = [c["_id"] for c, r in zip(captains, accepts, strict=True) if r.status_code == 200]
        assert ride["captain"] == (winner[0] if winner else None)
        assert ride["status"] == ("cancelled" if cancel.status_code == 200 else "accepted")
        if not winner:  # nobody accepted: the rider's cancel must have won
            assert cancel.status_code == 200


def test_start_against_cancel_has_exactly_one_winner(served_realtime, db):
    url = served_realtime.url
    for _ in range(5):
        rider, captain = make_user(db), make_captain(db)
        ride_id = insert_ride(db, rider, "accepted", captain, [captain])
        as_captain = auth_header(captain, "captain")
        start = [call("POST", f"{url}/rides/{ride_id}/start", as_captain,
                      json={"otp": "246810"})] * 3
        cancel = [call("POST", f"{url}/rides/{ride_id}/cancel", auth_header(rider))] * 2
        cancel += [call("POST", f"{url}/rides/{ride_id}/cancel", as_captain)]
        responses = run_together(start + cancel)
        wins = [r for r in responses if r.status_code == 200]
        assert len(wins) == 1, [r.status_code for r in responses]
        assert {r.status_code for r in responses} <= {200, 409}
        final = db.rides.find_one({"_id": ride_id})["status"]
        assert final == wins[0].json()["ride"]["status"] in ("ongoing", "cancelled")


def test_concurrent_senders_lose_nothing(served_realtime, db):
    url = served_realtime.url
    alice, bob = make_user(db), make_user(db)
    pairs = [(alice, bob), (bob, alice)]
    calls = [call("POST", f"{url}/messages/send/{b['_id']}", auth_header(a), json={"text": f"{n}"})
             for n in range(40) for a, b in pairs]
    responses = run_together(calls)
    assert {r.status_code for r in responses} == {201}
    created = {r.json()["newMessage"]["_id"] for r in responses}
    assert len(created) == 80
    # paging the conversation returns every message exactly once, oldest first
    seen, before = [], None
    while True:
        query = {"limit": 7, **({"before": before} if before else {})}
        page = requests.get(f"{url}/messages/{bob['_id']}", headers=auth_header(alice),
                            params=query).json()
        seen = [m["_id"] for m in page["messages"]] + seen
        before = page["next"]
        if before is None:
            break
    assert len(seen) == len(set(seen)) == 80 and set(seen) == created
    assert seen == sorted(seen)

"""Object-level authorization (IDOR), systematically: every route that takes an id,
called by every account that is not a party to that object, against the served
processes. Strangers get 404 (an object that is not yours does not exist for you),
the wrong role 403, and nothing stored changes."""
import pytest
import requests

from ..auth_api import PNG_1PX, data_url
from ..factories import auth_header, make_captain, make_user
from ..rides_support import DESTINATION, PICKUP, live_offer

RIDE_ACTIONS = ["start", "end", "cancel"]


def insert_ride(db, user, status, captain=None, dispatched=()):
    """A ride as stored; a pending one is offered to the `dispatched` captains."""
    offered = [c["_id"] for c in dispatched]
    ride = {"user": user["_id"], "captain": captain["_id"] if captain else None,
            "status": status, "pickup": PICKUP, "destination": DESTINATION,
            "vehicleType": "car", "fare": 100, "distanceKm": 7.0, "durationMin": 15.0,
            "otp": "246810", "otpFailures": 0, "dispatched": offered}
    if status == "pending":
        ride["dispatch"] = live_offer(offered)
    return db.rides.insert_one(ride).inserted_id


@pytest.fixture
def cast(db):
    """Alice rides with captain Carl; Bob is another rider; Dan was sent Alice's pending
    ride but did not take it; Eve is a captain with nothing to do with any of it."""
    people = {"alice": make_user(db), "bob": make_user(db), "carol": make_user(db),
              "carl": make_captain(db), "dan": make_captain(db), "eve": make_captain(db)}
    people["accepted"] = insert_ride(db, people["alice"], "accepted", people["carl"],
                                     [people["carl"], people["dan"]])
    people["pending"] = insert_ride(db, people["carol"], "pending",
                                    dispatched=[people["dan"]])
    return people


def headers(cast, name):
    role = "captain" if name in ("carl", "dan", "eve") else "user"
    return auth_header(cast[name], role)


def stored(db):
    return {name: sorted(map(repr, db[name].find())) for name in db.list_collection_names()
            if not name.startswith("system.")}


def test_rides_of_others_cannot_be_read_or_acted_on(served_realtime, db, cast):
    url = served_realtime.url
    before = stored(db)
    accepted, pending = cast["accepted"], cast["pending"]
    outcomes = {}
    for name in ("bob", "carol", "dan", "eve"):
        outcomes[f"{name} GET accepted"] = requests.get(
            f"{url}/rides/{accepted}", headers=headers(cast, name)).status_code
        for action in RIDE_ACTIONS:
            outcomes[f"{name} {action} accepted"] = requests.post(
                f"{url}/rides/{accepted}/{action}", headers=headers(cast, name),
                json={"otp": "246810"}).status_code
    for name in ("alice", "bob", "carl", "eve"):
        outcomes[f"{name} GET pending"] = requests.get(
            f"{url}/rides/{pending}", headers=headers(cast, name)).status_code
        outcomes[f"{name} cancel pending"] = requests.post(
            f"{url}/rides/{pending}/cancel", headers=headers(cast, name)).status_code
    # a captain the pending ride was not dispatched to cannot take it
    outcomes["eve accept pending"] = requests.post(
        f"{url}/rides/{pending}/accept", headers=headers(cast, "eve")).status_code
    for ride in ("pending", "accepted"):  # nor decline it
        outcomes[f"eve decline {ride}"] = requests.post(
            f"{url}/rides/{cast[ride]}/decline", headers=headers(cast, "eve")).status_code
    expected = {key: 404 for key in outcomes}
    for key in outcomes:  # riders calling captain-only actions: the role decides first
        if key.split()[0] in ("bob", "carol", "alice") and key.split()[1] in ("start", "end"):
            expected[key] = 403
    assert outcomes == expected
    assert stored(db) == before
    # the parties themselves can, and the captain never sees the OTP
    mine = requests.get(f"{url}/rides/{accepted}", headers=headers(cast, "alice")).json()
    theirs = requests.get(f"{url}/rides/{accepted}", headers=headers(cast, "carl")).json()
    assert mine["ride"]["otp"] == "246810" and "otp" not in theirs["ride"]


def test_histories_only_ever_list_your_own(served_realtime, served_auth, db, cast):
    url = served_realtime.url
    after_everything = "f" * 24  # a `before` cursor past every id
    for name in ("bob", "dan", "eve"):
        for query in ("", f"?before={after_everything}", "?status=accepted",
                      "?status=pending&limit=100"):
            rides = requests.get(f"{url}/rides{query}", headers=headers(cast, name)).json()
            assert rides["rides"] == [], (name, query)
    # activity: Alice's entries never show up for Bob, whatever the cursor
    auth = served_auth.url
    requests.post(f"{auth}/users/activity", headers=headers(cast, "alice"),
                  json={"action": "visited", "meta": {"place": "home of alice"}})
    alice_entry = db.activities.find_one({"meta.place": "home of alice"})
    assert alice_entry is not None
    for query in ("", f"?before={after_everything}", f"?before={alice_entry['_id']}"):
        page = requests.get(f"{auth}/users/activity{query}", headers=headers(cast, "bob")).json()
        assert all(entry["meta"].get("place") != "home of alice" for entry in page["activities"])


def test_messages_of_others_cannot_be_read_or_marked(served_realtime, db, cast):
    url = served_realtime.url
    alice, carol = cast["alice"], cast["carol"]
    sent = requests.post(f"{url}/messages/send/{carol['_id']}", headers=headers(cast, "alice"),
                         json={"text": "for carol only"}).json()["newMessage"]
    before = stored(db)
    for name in ("bob", "carl", "dan", "eve"):
        for ack in (requests.post(f"{url}/messages/{alice['_id']}/seen",
                                  headers=headers(cast, name), json={"upTo": sent["_id"]}),
                    requests.post(f"{url}/messages/delivered", headers=headers(cast, name),
                                  json={"messageIds": [sent["_id"]]})):
            assert ack.status_code == 404, name
        # reading "the conversation with alice" is the reader's own conversation: empty
        if name != "carl":  # (carl is alice's captain: their own, empty, conversation)
            response = requests.get(f"{url}/messages/{alice['_id']}", headers=headers(cast, name))
            assert response.status_code in (200, 403), name
            if response.status_code == 200:
                assert response.json()["messages"] == []
        sidebar = requests.get(f"{url}/messages/users", headers=headers(cast, name)).json()
        assert str(alice["_id"]) not in sidebar["unseen"]
        assert "email" not in str(sidebar["users"])
        synced = requests.get(f"{url}/messages/sync", headers=headers(cast, name)).json()
        changes = requests.get(f"{url}/messages/sync", headers=headers(cast, name),
                               params={"since": synced["next"]}).json()
        assert sent["_id"] not in str(changes)
    # the sender cannot mark its own message seen or delivered on the receiver's behalf
    for ack in (requests.post(f"{url}/messages/{carol['_id']}/seen",
                              headers=headers(cast, "alice"), json={"upTo": sent["_id"]}),
                requests.post(f"{url}/messages/delivered", headers=headers(cast, "alice"),
                              json={"messageIds": [sent["_id"]]})):
        assert ack.status_code == 403
    assert stored(db) == before
    found = db.messages.find_one({"text": "for carol only"})
    assert found["seen"] is False and found["deliveredAt"] is None


def test_captains_write_only_to_their_own_rider(served_realtime, db, cast):
    url = served_realtime.url
    for name, other in (("dan", "alice"), ("eve", "alice"), ("eve", "carol"), ("dan", "carl"),
                        ("bob", "carl"), ("bob", "dan")):
        response = requests.post(f"{url}/messages/send/{cast[other]['_id']}",
                                 headers=headers(cast, name), json={"text": "hello"})
        assert response.status_code == 403, (name, other, response.text)
    response = requests.post(f"{url}/messages/send/{cast['alice']['_id']}",
                             headers=headers(cast, "carl"), json={"text": "arriving"})
    assert response.status_code == 201


def test_media_cannot_be_claimed_or_deleted_by_another_account(served_auth, db, cast):
    auth = served_auth.url
    picture = requests.patch(f"{auth}/users/profile", headers=headers(cast, "alice"),
                             json={"profilePic": data_url(PNG_1PX)}).json()["user"]["profilePic"]
    assert requests.get(f"{auth}{picture}").status_code == 200
    # Bob cannot point his profile at Alice's stored image (only data URLs are taken) ...
    response = requests.patch(f"{auth}/users/profile", headers=headers(cast, "bob"),
                              json={"profilePic": picture})
    assert response.status_code == 400
    # ... so replacing or removing his own picture never deletes hers
    for value in (data_url(PNG_1PX), None):
        assert requests.patch(f"{auth}/users/profile", headers=headers(cast, "bob"),
                              json={"profilePic": value}).status_code == 200
    assert requests.get(f"{auth}{picture}").status_code == 200
    # ids are random: neighbours of a known id are not other people's images
    file_id = picture.rsplit("/", 1)[1]
    for delta in (1, -1, 256):
        neighbour = f"{(int(file_id, 16) + delta) % 16**24:024x}"
        assert requests.get(f"{auth}/media/{neighbour}").status_code == 404

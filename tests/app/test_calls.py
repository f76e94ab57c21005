"""Call rooms and the signaling relay, in process with Flask-SocketIO's test client:
who may join, who may signal whom, the limits, ride calls closing with their ride,
the in-call chat and the call history."""
import pytest

from realtime_service.extensions import socketio

from ..calls_support import Peer, make_ride
from ..conftest import make_config
from ..factories import auth_header, make_captain, make_user

OFFER = {"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}


@pytest.fixture
def app_with(mongo_uri, db):
    """`app_with(**settings)`: a realtime app with these settings; its peers
    disconnected after the test."""
    from realtime_service.app import create_app

    apps = []

    def make(**settings):
        app = create_app(make_config(mongo_uri, **settings))
        apps.append(app)
        return app

    yield make


@pytest.fixture
def app(app_with):
    return app_with()


@pytest.fixture
def peers(app, db):
    """`peers(n)`: n users, each connected."""
    opened = []

    def connect(count, role="user", on=None):
        made = [Peer(on or app, make_user(db) if role == "user" else make_captain(db), role)
                for _ in range(count)]
        opened.extend(made)
        return made

    yield connect
    for peer in opened:
        peer.disconnect()


def meeting(peer):
    started = peer.ack("call-start", {"kind": "meeting"})
    assert started["ok"] and started["kind"] == "meeting", started
    return started["room"]


def refused(answer, message):
    assert answer == {"ok": False, "message": message}
    return True


# Meetings and membership.

def test_a_meeting_code_is_unguessable_and_members_come_with_every_join(peers):
    alice, bob, carol = peers(3)
    room = meeting(alice)
    prefix, code = room.split(":")
    assert prefix == "meeting" and len(code) >= 22
    assert meeting(alice) != room
    first = alice.join(room)
    assert [m["accountId"] for m in first["members"]] == [alice.id]
    assert first["members"][0]["name"] == (
        f"{alice.account['fullname']['firstname']} {alice.account['fullname']['lastname']}")
    second = bob.join(room)
    assert [m["accountId"] for m in second["members"]] == [alice.id, bob.id]
    assert second["messages"] == [] and second["room"] == room
    assert set(second["members"][0]) == {"accountId", "role", "name", "joinedAt"}
    joined = alice.received("call-member-joined")
    assert [event["member"]["accountId"] for event in joined] == [bob.id]
    assert carol.received("call-member-joined") == []
    assert refused(carol.ack("call-join", {"room": "meeting:not-a-code"}),
                   "Call not found or ended")


def test_a_signal_reaches_exactly_its_target_in_the_same_room(peers):
    alice, bob, carol = peers(3)
    room = meeting(alice)
    for peer in (alice, bob, carol):
        peer.join(room)
    assert alice.ack("signal", {"room": room, "to": bob.id, "data": OFFER}) == {"ok": True}
    assert bob.received("signal") == [{"room": room, "from": alice.id, "data": OFFER}]
    assert carol.received("signal") == [] and alice.received("signal") == []
    candidate = {"candidate": "candidate:1 1 udp 1 127.0.0.1 5000 typ host", "sdpMid": "0"}
    assert bob.ack("signal", {"room": room, "to": alice.id, "data": candidate})["ok"]
    assert alice.received("signal") == [{"room": room, "from": bob.id, "data": candidate}]


def test_signals_outside_a_shared_room_are_refused(peers):
    alice, bob, carol, dave = peers(4)
    first, second = meeting(alice), meeting(carol)
    alice.join(first)
    bob.join(first)
    carol.join(second)
    dave.join(second)
    # A target of another room, a room one is not in, an unknown account, oneself.
    assert refused(alice.ack("signal", {"room": first, "to": dave.id, "data": OFFER}),
                   "No member of this call has that id")
    assert refused(alice.ack("signal", {"room": second, "to": dave.id, "data": OFFER}),
                   "You are not in this call")
    assert refused(alice.ack("signal", {"room": first, "to": "f" * 24, "data": OFFER}),
                   "No member of this call has that id")
    assert refused(alice.ack("signal", {"room": "meeting:nope", "to": bob.id, "data": OFFER}),
                   "You are not in this call")
    assert refused(alice.ack("signal", {"room": first, "to": alice.id, "data": OFFER}),
                   "Signal another member, not yourself")
    for peer in (bob, carol, dave):
        assert peer.received("signal") == []
    # The refusal also comes as `error`, as every refused event's.
    assert alice.received("error")[-1] == {"message": "Signal another member, not yourself"}


def test_malformed_call_events_are_refused_with_a_reason(peers):
    (alice,) = peers(1)
    assert refused(alice.ack("call-join", {}), "room: Missing data for required field.")
    assert refused(alice.ack("call-join", "meeting:x"), "Expected a JSON object")
    assert refused(alice.ack("call-start", {"kind": "ride"}),
                   "rideId: A ride call needs the rideId")
    assert refused(alice.ack("call-start", {"kind": "party"}),
                   "kind: Must be one of: meeting, ride, direct.")
    room = meeting(alice)
    alice.join(room)
    assert refused(alice.ack("signal", {"room": room, "to": alice.id}),
                   "data: Missing data for required field.")


def test_the_participant_limit_answers_a_clear_error(app_with, peers):
    app = app_with(CALL_MAX_PARTICIPANTS=3)
    first, second, third, fourth = peers(4, on=app)
    room = meeting(first)
    for peer in (first, second, third):
        peer.join(room)
    assert refused(fourth.ack("call-join", {"room": room}),
                   "The call is full (at most 3 participants)")
    assert third.ack("call-leave", {"room": room}) == {"ok": True}
    assert [m["accountId"] for m in fourth.join(room)["members"]] == [
        first.id, second.id, fourth.id]


def test_signal_data_over_the_size_limit_is_refused(app_with, peers):
    app = app_with(CALL_SIGNAL_MAX_BYTES=1024)
    alice, bob = peers(2, on=app)
    room = meeting(alice)
    alice.join(room)
    bob.join(room)
    fits = {"sdp": "x" * 900}
    assert alice.ack("signal", {"room": room, "to": bob.id, "data": fits})["ok"]
    too_big = {"sdp": "x" * 1100}
    answer = alice.ack("signal", {"room": room, "to": bob.id, "data": too_big})
    assert not answer["ok"] and answer["message"].startswith("Signal data too large")
    assert "at most 1024" in answer["message"]
    assert [signal["data"] for signal in bob.received("signal")] == [fits]


def test_signals_have_a_budget_per_socket_and_events_one_per_account(app_with, peers):
    app = app_with(RATELIMIT_ENABLED=True, SOCKET_EVENT_RATE_LIMIT="1000 per minute",
                   CALL_SIGNAL_RATE_LIMIT="3 per minute")
    alice, bob = peers(2, on=app)
    room = meeting(alice)
    alice.join(room)
    bob.join(room)
    signal = {"room": room, "to": bob.id, "data": OFFER}
    assert [alice.ack("signal", signal)["ok"] for _ in range(3)] == [True] * 3
    assert refused(alice.ack("signal", signal), "Too many signals, slow down")
    assert len(bob.received("signal")) == 3
    assert alice.ack("call-message", {"room": room, "text": "still here"})["ok"]
    strict = app_with(RATELIMIT_ENABLED=True, SOCKET_EVENT_RATE_LIMIT="2 per minute")
    (carol,) = peers(1, on=strict)
    assert carol.ack("call-start", {"kind": "meeting"})["ok"]
    assert carol.ack("call-start", {"kind": "meeting"})["ok"]
    assert refused(carol.ack("call-start", {"kind": "meeting"}),
                   "Too many events, try again later")


def test_anonymous_sockets_cannot_use_calls(app, db):
    """A page of the gateway's origin may connect before login (compat); not call."""
    client = socketio.test_client(app, flask_test_client=app.test_client(), headers={
        "X-Forwarded-For": "127.0.0.1", "Sec-Fetch-Site": "same-origin"})
    try:
        assert client.is_connected()
        for event, data in (("call-start", {"kind": "meeting"}),
                            ("call-join", {"room": "meeting:x"})):
            assert refused(client.emit(event, data, callback=True), "Authentication required")
    finally:
        client.disconnect()


# Leaving, ending, reconnecting.

def test_leaving_tells_the_others_and_the_last_one_out_ends_the_call(peers):
    alice, bob = peers(2)
    room = meeting(alice)
    alice.join(room)
    bob.join(room)
    assert bob.ack("call-leave", {"room": room}) == {"ok": True}
    assert alice.received("call-member-left") == [{"room": room, "accountId": bob.id}]
    assert refused(bob.ack("call-leave", {"room": room}), "You are not in this call")
    assert alice.ack("call-leave", {"room": room}) == {"ok": True}
    assert refused(bob.ack("call-join", {"room": room}), "Call not found or ended")


def test_only_the_creator_ends_a_meeting_for_everyone(peers):
    alice, bob, carol = peers(3)
    room = meeting(alice)
    for peer in (alice, bob, carol):
        peer.join(room)
    assert refused(bob.ack("call-end", {"room": room}),
                   "Only the creator of a meeting can end it; leave it instead")
    assert alice.ack("call-end", {"room": room}) == {"ok": True}
    for peer in (alice, bob, carol):
        assert peer.received("call-ended") == [{"room": room, "reason": "ended"}]
    assert refused(bob.ack("signal", {"room": room, "to": carol.id, "data": OFFER}),
                   "You are not in this call")


def test_a_dropped_member_rejoins_and_renegotiates(app, db, peers):
    alice, bob = peers(2)
    room = meeting(alice)
    alice.join(room)
    bob.join(room)
    bob.disconnect()
    assert alice.received("call-member-left") == [{"room": room, "accountId": bob.id}]
    back = Peer(app, bob.account)
    try:
        rejoined = back.join(room)
        assert [m["accountId"] for m in rejoined["members"]] == [alice.id, bob.id]
        assert [e["member"]["accountId"] for e in alice.received("call-member-joined")] == [
            bob.id, bob.id]
        assert back.ack("signal", {"room": room, "to": alice.id, "data": OFFER})["ok"]
        answer = {"type": "answer", "sdp": "v=0\r\n"}
        assert alice.ack("signal", {"room": room, "to": bob.id, "data": answer})["ok"]
        assert back.received("signal") == [{"room": room, "from": alice.id, "data": answer}]
    finally:
        back.disconnect()


def test_a_join_from_another_socket_replaces_the_previous_one(app, peers):
    alice, bob = peers(2)
    room = meeting(alice)
    alice.join(room)
    bob.join(room)
    laptop = Peer(app, bob.account)
    try:
        members = laptop.join(room)["members"]
        assert [m["accountId"] for m in members] == [alice.id, bob.id]
        assert bob.received("call-ended") == [{"room": room, "reason": "replaced"}]
        assert alice.received("call-member-left") == [{"room": room, "accountId": bob.id}]
        assert alice.ack("signal", {"room": room, "to": bob.id, "data": OFFER})["ok"]
        assert laptop.received("signal") and bob.received("signal") == []
        assert refused(bob.ack("signal", {"room": room, "to": alice.id, "data": OFFER}),
                       "You are not in this call")
    finally:
        laptop.disconnect()


# Ride calls.

@pytest.fixture
def ride_parties(app, db):
    rider, captain = make_user(db), make_captain(db)
    parties = Peer(app, rider), Peer(app, captain, "captain")
    yield parties
    for peer in parties:
        peer.disconnect()


def test_a_ride_call_rings_the_other_party_and_admits_only_the_ride(app, db, ride_parties,
                                                                    peers):
    rider, captain = ride_parties
    ride = make_ride(db, rider.account, captain.account)
    ride_id = str(ride["_id"])
    started = captain.ack("call-start", {"kind": "ride", "rideId": ride_id})
    assert started == {"ok": True, "room": f"ride:{ride_id}", "kind": "ride",
                       "rideId": ride_id}
    incoming = rider.received("incoming-call")
    assert incoming == [{"room": f"ride:{ride_id}", "kind": "ride", "rideId": ride_id,
                         "from": {"accountId": captain.id, "role": "captain",
                                  "name": incoming[0]["from"]["name"]}}]
    # Started again (by the rider): the same room, the captain rung.
    again = rider.ack("call-start", {"kind": "ride", "rideId": ride_id})
    assert again["room"] == started["room"]
    assert [call["room"] for call in captain.received("incoming-call")] == [started["room"]]
    (stranger,) = peers(1)
    assert refused(stranger.ack("call-start", {"kind": "ride", "rideId": ride_id}),
                   "Ride not found")
    assert refused(stranger.ack("call-join", {"room": started["room"]}),
                   "You are not a party of this call")
    rider.join(started["room"])
    assert [m["accountId"] for m in captain.join(started["room"])["members"]] == [
        rider.id, captain.id]


def test_a_ride_call_closes_when_the_ride_is_cancelled(app, db, ride_parties):
    rider, captain = ride_parties
    ride = make_ride(db, rider.account, captain.account)
    room = rider.ack("call-start", {"kind": "ride", "rideId": str(ride["_id"])})["room"]
    rider.join(room)
    captain.join(room)
    cancelled = app.test_client().post(f"/rides/{ride['_id']}/cancel",
                                       headers=auth_header(rider.account))
    assert cancelled.status_code == 200
    for peer in (rider, captain):
        assert peer.received("call-ended") == [{"room": room, "reason": "ride-cancelled"}]
    assert refused(captain.ack("call-join", {"room": room}), "Call not found or ended")
    assert refused(captain.ack("call-start", {"kind": "ride", "rideId": str(ride["_id"])}),
                   "Ride calls are possible only while the ride is accepted or ongoing")


def test_a_ride_call_closes_when_the_ride_ends(app, db, ride_parties):
    rider, captain = ride_parties
    ride = make_ride(db, rider.account, captain.account, status="ongoing")
    room = captain.ack("call-start", {"kind": "ride", "rideId": str(ride["_id"])})["room"]
    captain.join(room)
    ended = app.test_client().post(f"/rides/{ride['_id']}/end",
                                   headers=auth_header(captain.account, "captain"))
    assert ended.status_code == 200
    # The rider never joined, and is told too: it stops ringing.
    for peer in (rider, captain):
        assert peer.received("call-ended") == [{"room": room, "reason": "ride-ended"}]
    assert refused(rider.ack("call-join", {"room": room}), "Call not found or ended")


def test_a_ride_call_needs_an_accepted_or_ongoing_ride(app, db, ride_parties):
    rider, captain = ride_parties
    ride = make_ride(db, rider.account, captain.account, status="pending")
    assert refused(rider.ack("call-start", {"kind": "ride", "rideId": str(ride["_id"])}),
                   "Ride calls are possible only while the ride is accepted or ongoing")
    db.rides.update_one({"_id": ride["_id"]}, {"$set": {"status": "ongoing"}})
    room = rider.ack("call-start", {"kind": "ride", "rideId": str(ride["_id"])})["room"]
    # Completed behind the call's back (another process that could not close it).
    db.rides.update_one({"_id": ride["_id"]}, {"$set": {"status": "completed"}})
    assert refused(captain.ack("call-join", {"room": room}), "Call not found or ended")
    assert rider.received("call-ended") == [{"room": room, "reason": "ride-ended"}]


# Direct calls.

def test_a_direct_call_rings_the_callee_and_admits_the_two_only(peers, db):
    alice, bob, carol = peers(3)
    started = alice.ack("call-start", {"kind": "direct", "to": bob.id})
    room = started["room"]
    assert started["ok"] and room.startswith("direct:") and started["rideId"] is None
    assert [(call["room"], call["from"]["accountId"]) for call in
            bob.received("incoming-call")] == [(room, alice.id)]
    assert carol.received("incoming-call") == []
    alice.join(room)
    bob.join(room)
    assert refused(carol.ack("call-join", {"room": room}), "You are not a party of this call")
    # Declining is ending: the caller hears it.
    assert bob.ack("call-end", {"room": room}) == {"ok": True}
    assert alice.received("call-ended") == [{"room": room, "reason": "ended"}]


def test_direct_calls_follow_the_chat_rules(peers, db):
    (alice,) = peers(1)
    first, second = peers(2, role="captain")
    assert refused(alice.ack("call-start", {"kind": "direct", "to": alice.id}),
                   "You cannot call yourself")
    assert refused(first.ack("call-start", {"kind": "direct", "to": second.id}),
                   "Captains cannot call each other")
    assert refused(alice.ack("call-start", {"kind": "direct", "to": first.id}),
                   "Riders and captains can only call during their ride")
    assert refused(alice.ack("call-start", {"kind": "direct", "to": "a" * 24}),
                   "User not found")


# In-call chat and history.

def test_call_messages_reach_the_members_and_replay_to_a_late_joiner(app_with, peers):
    app = app_with(CALL_CHAT_HISTORY=2)
    alice, bob, carol = peers(3, on=app)
    room = meeting(alice)
    alice.join(room)
    bob.join(room)
    sent = [alice.ack("call-message", {"room": room, "text": f" line {n} "}) for n in (1, 2, 3)]
    assert all(answer["ok"] for answer in sent)
    assert sent[0]["text"] == "line 1" and sent[0]["senderId"] == alice.id
    pushed = bob.received("call-message")
    assert [(m["room"], m["senderId"], m["text"]) for m in pushed] == [
        (room, alice.id, "line 1"), (room, alice.id, "line 2"), (room, alice.id, "line 3")]
    assert all(m["createdAt"].endswith("Z") and m["senderName"] for m in pushed)
    assert alice.received("call-message") == []
    late = carol.join(room)
    assert [m["text"] for m in late["messages"]] == ["line 2", "line 3"]
    assert refused(carol.ack("call-message", {"room": room, "text": "   "}),
                   "text: Message text must be 1-2000 characters long")
    outsider = meeting(carol)
    assert refused(carol.ack("call-message", {"room": outsider, "text": "hi"}),
                   "You are not in this call")


def test_call_history_lists_the_joins_of_the_account(app, db, peers):
    alice, bob = peers(2)
    first, second = meeting(alice), meeting(alice)
    alice.join(first)
    bob.join(first)
    alice.ack("call-leave", {"room": first})
    alice.join(second)
    client = app.test_client()
    page = client.get("/calls/history", headers=auth_header(alice.account)).get_json()
    assert [entry["room"] for entry in page["calls"]] == [second, first]
    latest, earlier = page["calls"]
    assert latest["leftAt"] is None and earlier["leftAt"] >= earlier["joinedAt"]
    assert set(latest) == {"_id", "room", "kind", "rideId", "joinedAt", "leftAt"}
    assert page["next"] is None
    one = client.get("/calls/history?limit=1", headers=auth_header(alice.account)).get_json()
    assert [entry["room"] for entry in one["calls"]] == [second] and one["next"]
    older = client.get(f"/calls/history?limit=1&before={one['next']}",
                       headers=auth_header(alice.account)).get_json()
    assert [entry["room"] for entry in older["calls"]] == [first]
    bobs = client.get("/calls/history", headers=auth_header(bob.account)).get_json()
    assert [entry["room"] for entry in bobs["calls"]] == [first]
    assert client.get("/calls/history").status_code == 401

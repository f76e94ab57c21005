"""The video-meeting frontend's socket events, in process with Flask-SocketIO's test
client, sent as its pages send them (positional arguments, the login's cookie or no
credential at all): argument orders, socket ids as member ids, rooms by the URL's
meeting code, signals only within one room, the chat and its replay, user-left,
guests, and the history of the joins."""
import pytest

from realtime_service.extensions import socketio

from ..conftest import make_config
from ..factories import make_user, token_for
from ..sockets import without_offset

URL = "http://127.0.0.1:5000/aljk23"
OFFER = '{"sdp":{"type":"offer","sdp":"v=0\\r\\n"}}'
ICE = '{"ice":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0"}}'


class Page:
    """A tab of the frontend: its socket as `io.connect(server)` opens it from a page of
    the gateway's origin, with the login's cookie (or none: a guest), keeping every
    event it heard."""

    def __init__(self, app, account=None, address="127.0.0.1"):
        browser = app.test_client()  # its cookie jar
        if account is not None:
            browser.set_cookie("token", token_for(account))
        self.account = account
        self.client = socketio.test_client(app, flask_test_client=browser, headers={
            "Sec-Fetch-Site": "same-origin", "X-Forwarded-For": address})
        assert self.client.is_connected()
        self.id = socketio.server.manager.sid_from_eio_sid(self.client.eio_sid, "/")
        self.inbox = []

    def emit(self, event, *args):
        """Emit as the frontend does; the acknowledgement (the frontend ignores it)."""
        return self.client.emit(event, *args, callback=True)

    def heard(self, event):
        """The argument lists of `event` heard so far, oldest first."""
        self.inbox.extend(self.client.get_received())
        return [without_offset(packet["args"]) for packet in self.inbox
                if packet["name"] == event]

    def join(self, url=URL):
        assert self.emit("join-call", url) == {"ok": True}

    def close(self):
        if self.client.is_connected():
            self.client.disconnect()


@pytest.fixture
def app_with(mongo_uri, db):
    from realtime_service.app import create_app

    return lambda **settings: create_app(make_config(mongo_uri, **settings))


@pytest.fixture
def app(app_with):
    return app_with()


@pytest.fixture
def pages(app, db):
    """`pages(n, guests=False, on=app)`: n tabs, of n new users (or guests)."""
    opened = []

    def open_(count, guests=False, on=None):
        made = [Page(on or app, None if guests else make_user(db)) for _ in range(count)]
        opened.extend(made)
        return made

    yield open_
    for page in opened:
        page.close()


def refused(answer, message):
    assert answer == {"ok": False, "message": message}
    return True


# Joining: one room per meeting code, socket ids in join order.

def test_every_member_hears_each_join_with_the_socket_ids_in_join_order(pages):
    alice, bob, carol = pages(3)
    alice.join()
    assert alice.heard("user-joined") == [[alice.id, [alice.id]]]
    bob.join("http://localhost:5000/aljk23/?from=home#top")  # the same code: one room
    assert alice.heard("user-joined")[-1] == [bob.id, [alice.id, bob.id]]
    assert bob.heard("user-joined") == [[bob.id, [alice.id, bob.id]]]
    carol.join("http://127.0.0.1:5000/other")
    assert carol.heard("user-joined") == [[carol.id, [carol.id]]]
    assert len(alice.heard("user-joined")) == 2 and len(bob.heard("user-joined")) == 1


def test_a_percent_encoded_code_is_its_meeting(pages, db):
    alice, bob = pages(2)
    alice.join("http://127.0.0.1:5000/team%20call")
    bob.join("http://127.0.0.1:5000/team call")
    assert bob.heard("user-joined") == [[bob.id, [alice.id, bob.id]]]
    assert db.calls.find_one({"status": "open"})["key"] == "meeting:team call"


@pytest.mark.parametrize("url, message", [
    ("http://127.0.0.1:5000/", "A meeting code is 1-64 printable characters without /"),
    ("http://127.0.0.1:5000/a/b", "A meeting code is 1-64 printable characters without /"),
    ("http://127.0.0.1:5000/home", "/home is a page of the app, not a meeting: choose "
                                   "another code"),
    (None, "join-call takes the page's URL"),
    ({"room": "meeting:x"}, "join-call takes the page's URL"),
])
def test_join_call_needs_a_meeting_url(pages, url, message):
    (alice,) = pages(1)
    assert refused(alice.emit("join-call", url), message)
    assert alice.heard("error") == [[{"message": message}]]


def test_a_second_join_call_leaves_the_previous_meeting(pages):
    alice, bob = pages(2)
    alice.join()
    bob.join()
    bob.join("http://127.0.0.1:5000/elsewhere")
    assert alice.heard("user-left") == [[bob.id]]
    assert bob.heard("user-joined")[-1] == [bob.id, [bob.id]]


def test_a_meeting_holds_call_max_participants(app_with, pages):
    app = app_with(CALL_MAX_PARTICIPANTS=2)
    first, second, third = pages(3, on=app)
    first.join()
    second.join()
    assert refused(third.emit("join-call", URL), "The call is full (at most 2 participants)")


# Signals: verbatim, to the target socket of the sender's room only.

def test_a_signal_reaches_exactly_its_target_verbatim(pages):
    alice, bob, carol = pages(3)
    for page in (alice, bob, carol):
        page.join()
    assert alice.emit("signal", bob.id, OFFER) == {"ok": True}
    assert bob.emit("signal", alice.id, ICE) == {"ok": True}
    assert bob.heard("signal") == [[alice.id, OFFER]]
    assert alice.heard("signal") == [[bob.id, ICE]]
    assert carol.heard("signal") == []


def test_signals_outside_one_s_room_are_refused(pages):
    alice, bob, carol, dave = pages(4)
    alice.join()
    bob.join()
    carol.join("http://127.0.0.1:5000/other")
    assert refused(carol.emit("signal", alice.id, OFFER), "No member of this call has that id")
    assert refused(dave.emit("signal", alice.id, OFFER), "You are not in this call")
    assert refused(alice.emit("signal", alice.id, OFFER), "Signal another member, not yourself")
    assert refused(alice.emit("signal", "no-such-socket", OFFER),
                   "No member of this call has that id")
    assert alice.heard("signal") == [] and bob.heard("signal") == []


def test_other_forms_of_signal_are_ridewire_s_own(pages):
    alice, bob = pages(2)
    room = alice.emit("call-start", {"kind": "meeting"})["room"]
    for page in (alice, bob):
        assert page.emit("call-join", {"room": room})["ok"]
    data = {"type": "offer", "sdp": "v=0\r\n"}
    assert alice.emit("signal", {"room": room, "to": str(bob.account["_id"]),
                                 "data": data}) == {"ok": True}
    assert bob.heard("signal") == [[{"room": room, "from": str(alice.account["_id"]),
                                     "data": data}]]
    assert refused(alice.emit("signal", bob.id, {"sdp": "not a string"}),
                   "Expected a JSON object")


def test_ridewire_rooms_and_the_frontend_s_meetings_do_not_mix(pages, db):
    alice, bob = pages(2)
    alice.join()
    assert refused(bob.emit("call-join", {"room": "meeting:aljk23"}),
                   "This call is for other clients")
    room = bob.emit("call-start", {"kind": "meeting"})["room"]
    assert refused(alice.emit("join-call", f"http://127.0.0.1:5000/{room.split(':')[1]}"),
                   "This call is for other clients")
    assert alice.emit("chat-message", "still here", "Alice") == {"ok": True}  # in aljk23
    assert refused(bob.emit("call-end", {"room": "meeting:aljk23"}),
                   "This call is for other clients")


# Chat: to every member, the sender included; stored with the room, replayed.

def test_chat_reaches_every_member_and_replays_to_a_late_joiner(app_with, pages):
    app = app_with(CALL_CHAT_HISTORY=2)
    alice, bob, carol = pages(3, on=app)
    alice.join()
    bob.join()
    for text in ("one", "two", "three"):
        assert alice.emit("chat-message", f" {text} ", "Alice in the lobby") == {"ok": True}
    lines = [["one", "Alice in the lobby", alice.id], ["two", "Alice in the lobby", alice.id],
             ["three", "Alice in the lobby", alice.id]]
    assert alice.heard("chat-message") == lines and bob.heard("chat-message") == lines
    assert bob.emit("chat-message", "hi", "") == {"ok": True}
    bob_name = f"{bob.account['fullname']['firstname']} {bob.account['fullname']['lastname']}"
    assert alice.heard("chat-message")[-1] == ["hi", bob_name, bob.id]
    carol.join()
    carol.inbox.extend(carol.client.get_received())
    names = [packet["name"] for packet in carol.inbox]
    assert names == ["user-joined", "chat-message", "chat-message"]  # in this order
    assert carol.heard("chat-message") == [["three", "Alice in the lobby", alice.id],
                                           ["hi", bob_name, bob.id]]
    assert len(alice.heard("chat-message")) == 4  # no replay to the others


def test_chat_outside_a_meeting_or_empty_is_refused(pages):
    alice, bob = pages(2)
    assert refused(alice.emit("chat-message", "hello", "Alice"), "You are not in this call")
    alice.join()
    assert refused(alice.emit("chat-message", "   ", "Alice"),
                   "text: Message text must be 1-2000 characters long")
    assert refused(alice.emit("chat-message", "x" * 2001, "Alice"),
                   "text: Message text must be 1-2000 characters long")
    assert alice.emit("chat-message", "hello", "A" * 80) == {"ok": True}
    assert alice.heard("chat-message") == [["hello", "A" * 50, alice.id]]


# Leaving.

def test_a_closed_socket_is_user_left_and_the_last_one_out_ends_the_meeting(pages, db):
    alice, bob, carol = pages(3)
    alice.join()
    bob.join()
    carol.join("http://127.0.0.1:5000/other")
    bob.close()
    assert alice.heard("user-left") == [[bob.id]]
    assert carol.heard("user-left") == []
    alice.close()
    meeting = db.calls.find_one({"key": "meeting:aljk23"})
    assert meeting["status"] == "ended" and meeting["members"] == []
    (again,) = pages(1)
    again.join()
    assert again.heard("user-joined") == [[again.id, [again.id]]]
    assert db.calls.count_documents({"key": "meeting:aljk23"}) == 2


def test_two_tabs_of_one_account_are_two_members(app, db, pages):
    user = make_user(db)
    first, second = Page(app, user), Page(app, user)
    try:
        first.join()
        second.join()
        assert second.heard("user-joined") == [[second.id, [first.id, second.id]]]
        assert first.emit("signal", second.id, OFFER) == {"ok": True}
        assert second.heard("signal") == [[first.id, OFFER]]
    finally:
        first.close()
        second.close()


# Guests.

def test_guests_join_meetings_and_talk(pages, db):
    guest, other = pages(2, guests=True)
    (member,) = pages(1)
    guest.join()
    other.join()
    member.join()
    assert member.heard("user-joined") == [[member.id, [guest.id, other.id, member.id]]]
    assert guest.emit("signal", member.id, OFFER) == {"ok": True}
    assert member.heard("signal") == [[guest.id, OFFER]]
    assert guest.emit("chat-message", "hello", "") == {"ok": True}
    assert member.heard("chat-message") == [["hello", "Guest", guest.id]]
    guest.close()
    assert member.heard("user-left") == [[guest.id]] and other.heard("user-left") == [[guest.id]]
    # Guests leave no history; accounts do.
    assert db.call_history.count_documents({}) == 1


def test_guests_never_use_ridewire_s_calls(pages):
    (guest,) = pages(1, guests=True)
    assert refused(guest.emit("call-start", {"kind": "meeting"}), "Authentication required")
    assert refused(guest.emit("call-join", {"room": "ride:" + "a" * 24}),
                   "Authentication required")
    assert refused(guest.emit("signal", {"room": "meeting:x", "to": "a" * 24, "data": {}}),
                   "Authentication required")


def test_guests_are_refused_without_call_guests(app_with, pages, db):
    app = app_with(CALL_GUESTS=False)
    (guest,) = pages(1, guests=True, on=app)
    (member,) = pages(1, on=app)
    assert refused(guest.emit("join-call", URL), "Sign in to join this call")
    assert db.calls.count_documents({}) == 0  # nothing opened for it
    member.join()


def test_guest_joins_are_limited_per_address(app_with, pages):
    app = app_with(RATELIMIT_ENABLED=True, CALL_GUEST_RATE_LIMIT="2 per minute")
    first, second, third = pages(3, guests=True, on=app)
    first.join()
    second.join()
    assert refused(third.emit("join-call", URL),
                   "Too many guest joins from this address, try again later")
    (member,) = pages(1, on=app)
    member.join()  # accounts are not counted


# (Behind the gateway, the forwarded client address is the app's outermost layer's
# work, for every request: tests/hardening/test_client_address.py checks it over the
# wire for socket budgets, which guest joins share.)


# History.

def test_each_join_of_an_account_is_in_its_history(app, pages, db):
    alice, bob = pages(2)
    alice.join()
    bob.join()
    alice.join("http://127.0.0.1:5000/second")
    client = app.test_client()
    history = client.get("/api/v1/users/get_all_activity",
                         query_string={"token": token_for(alice.account)}).get_json()
    assert [entry["meetingCode"] for entry in history] == ["aljk23", "second"]
    leaving = db.call_history.find_one({"accountId": alice.account["_id"],
                                        "room": "meeting:aljk23"})
    assert leaving["leftAt"] is not None

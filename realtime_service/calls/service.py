"""Calls: who may be in a call room, and the WebRTC signaling between its members.

- A **meeting** (`meeting:<code>`) is open to any signed-in account that knows its
  room; the code comes from `secrets.token_urlsafe`, so it cannot be guessed. Only
  its creator ends it for everyone; the others leave. A meeting whose code the
  clients choose (`join_meeting`) is opened by its first joiner and speaks the
  protocol of those clients (realtime_service.calls.protocols); with CALL_GUESTS,
  guests (sockets without an account) may join it too, and nothing else.
- A **ride call** (`ride:<ride id>`) is open to the ride's rider and captain while the
  ride is accepted or ongoing, and closes when the ride ends or is cancelled.
- A **direct call** (`direct:<code>`) is open to its two accounts, who may call each
  other when the chat lets them write to each other.

Starting a ride or direct call rings the other party (`incoming-call`); everyone then
joins explicitly. An account is in a room once: a join from another socket (a
reconnect) replaces its previous one, and the others are told it left and joined, so
they renegotiate. The latest joiner makes the offers: a join's acknowledgement lists
the members who were there before (and the joiner), the members before it are told
`call-member-joined`. A room holds at most CALL_MAX_PARTICIPANTS members and ends when
its last member leaves.

What travels in a room (signals, in-call messages) is realtime_service.calls.signaling.
"""
import secrets
import time
from dataclasses import dataclass

from bson import ObjectId
from flask import current_app
from pymongo.errors import DuplicateKeyError

from realtime_service.calls import call_history, calls, turn
from realtime_service.calls.protocols import PROTOCOLS, protocol_of
from realtime_service.calls.schemas import IncomingCall
from realtime_service.chat.service import check_partner
from realtime_service.rides import rides
from realtime_service.sockets import notifier
from shared.accounts import accounts
from shared.accounts.roles import Role
from shared.errors import Conflict, Forbidden, NotFound
from shared.serialize import now

CODE_BYTES = 16  # 22 URL-safe characters
CALL_NOT_FOUND = "Call not found or ended"
NOT_A_PARTY = "You are not a party of this call"
NOT_IN_CALL = "You are not in this call"
UNKNOWN_TARGET = "No member of this call has that id"
RIDE_NOT_FOUND = "Ride not found"
RIDE_NOT_OPEN = "Ride calls are possible only while the ride is accepted or ongoing"
ONLY_CREATOR = "Only the creator of a meeting can end it; leave it instead"
OTHER_CLIENTS = "This call is for other clients"
GUESTS_REFUSED = "Sign in to join this call"
GUEST, GUEST_NAME = "guest", "Guest"
JOIN_ATTEMPTS = 3
INCOMING = IncomingCall()


@dataclass(frozen=True)
class Caller:
    """Who sends an event: the account (None for a guest), its role and the socket it
    came from."""

    account_id: ObjectId
    role: str
    sid: str


def setting(name):
    return current_app.config[name]


# Views: what the members see of a call.

def call_view(call):
    return {"room": call["key"], "kind": call["kind"], "rideId": call.get("rideId")}


def joined_view(call, members):
    messages = [{**message, "room": call["key"]} for message in call.get("messages", [])]
    return {**call_view(call), "members": members, "messages": messages}


def account_name(account_id, role):
    """The account's first and last name, or "" when it has none (or is gone); a
    guest's is GUEST_NAME."""
    if account_id is None:
        return GUEST_NAME
    found = accounts.public_profiles(Role(role), [account_id], ("fullname",))
    fullname = found.get(account_id, {}).get("fullname") or {}
    return " ".join(filter(None, (fullname.get("firstname"), fullname.get("lastname"))))


def member_of_socket(call, sid):
    return next((member for member in call["members"] if member["sid"] == sid), None)


def member_of_account(call, account_id):
    return next((member for member in call["members"]
                 if str(member["accountId"]) == str(account_id)), None)


# Starting a call.

def start_call(caller, kind, ride_id=None, other_id=None):
    """Open a meeting, the call of the caller's ride or a direct call to `other_id`;
    the call's room, kind and ride. Ride and direct calls ring the other party."""
    if kind == "meeting":
        call = calls.create(f"meeting:{secrets.token_urlsafe(CODE_BYTES)}", kind,
                            caller.account_id)
    elif kind == "ride":
        call = ride_call(caller, ride_id)
    else:
        call = direct_call(caller, other_id)
    return call_view(call)


def ride_of_party(ride_id, account_id):
    """The ride if the account is its rider or captain (404) and it is open (409)."""
    ride = rides.find(ride_id)
    if ride is None or account_id not in (ride["user"], ride.get("captain")):
        raise NotFound(RIDE_NOT_FOUND)
    if ride["status"] not in rides.BUSY:
        raise Conflict(RIDE_NOT_OPEN)
    return ride


def ride_call(caller, ride_id):
    """The open call of the ride (a new one unless there is one), rung again."""
    ride = ride_of_party(ride_id, caller.account_id)
    key = f"ride:{ride_id}"
    try:
        call = calls.create(key, "ride", caller.account_id,
                            (ride["user"], ride["captain"]), ride_id)
    except DuplicateKeyError:  # open already: ring again
        call = calls.find_open(key, with_messages=False)
        if call is None:  # ended meanwhile
            raise Conflict("The call ended meanwhile; start it again") from None
    ring(call, caller)
    return call


def direct_call(caller, other_id):
    check_partner(caller.account_id, caller.role, other_id, writing=True, verb="call")
    call = calls.create(f"direct:{secrets.token_urlsafe(CODE_BYTES)}", "direct",
                        caller.account_id, (caller.account_id, other_id))
    ring(call, caller)
    return call


def ring(call, caller):
    """`incoming-call` to every connection of the call's other parties."""
    card = {"accountId": caller.account_id, "role": caller.role,
            "name": account_name(caller.account_id, caller.role)}
    others = [party for party in call["parties"] if party != caller.account_id]
    notifier.push_many(others, "incoming-call", INCOMING.dump({**call_view(call),
                                                               "caller": card}))


# Joining and leaving.

def open_call(room, with_messages=False, protocol=None):
    """The open call of `room`, if its clients speak `protocol` (None: Ridewire's)."""
    call = calls.find_open(room, with_messages)
    if call is None:
        raise NotFound(CALL_NOT_FOUND)
    if call.get("protocol") != protocol:
        raise Conflict(OTHER_CLIENTS)
    return call


def check_guest(caller, kind, protocol):
    """A guest (no account) joins only meetings whose protocol names members by
    socket, and only with CALL_GUESTS."""
    if caller.account_id is None and not (kind == "meeting" and protocol.by_socket
                                          and setting("CALL_GUESTS")):
        raise Forbidden(GUESTS_REFUSED)


def check_access(call, caller):
    """Anyone in a meeting (a guest as `check_guest` says); only the parties of a ride
    or direct call, and only while the ride is open (a call whose ride is over is
    closed here, should its end have failed to close it)."""
    check_guest(caller, call["kind"], protocol_of(call))
    if call["kind"] == "meeting":
        return
    if caller.account_id not in call["parties"]:
        raise Forbidden(NOT_A_PARTY)
    if call["kind"] == "ride":
        ride = rides.find(call["rideId"])
        if ride is None or ride["status"] not in rides.BUSY:
            cancelled = ride is not None and ride["status"] == "cancelled"
            close(call, "ride-cancelled" if cancelled else "ride-ended")
            raise NotFound(CALL_NOT_FOUND)


def join_call(room, caller, protocol=None):
    """Join the room: the call with the members up to the caller (whom the caller
    calls) and the latest chat messages. The members before are told."""
    call = open_call(room, protocol=protocol)
    check_access(call, caller)
    if member_of_socket(call, caller.sid) is not None:
        return joined(room, caller, protocol)  # joined already: the same answer again
    by_account = not protocol_of(call).by_socket
    previous = member_of_account(call, caller.account_id) if by_account else None
    member = {"sid": caller.sid, "accountId": caller.account_id, "role": caller.role,
              "name": account_name(caller.account_id, caller.role), "joinedAt": now()}
    if previous is not None:
        remove_member(call, previous, replaced=True)
    if not calls.add_member(call["_id"], member, setting("CALL_MAX_PARTICIPANTS")):
        raise refusal(call["_id"])
    if caller.account_id is not None:
        call_history.record_join(caller.account_id, call, caller.sid, member["joinedAt"])
    return joined(room, caller, protocol, announce=True)


def joined(room, caller, protocol=None, announce=False):
    """The call as the caller joined it; with `announce`, the members are told as its
    protocol says (the caller's array order is its join order)."""
    call = open_call(room, with_messages=True, protocol=protocol)
    mine = member_of_socket(call, caller.sid)
    if mine is None:  # replaced or ended meanwhile
        raise NotFound(CALL_NOT_FOUND)
    members = call["members"][:call["members"].index(mine) + 1]
    if announce:
        protocol_of(call).member_joined(call, members, mine)
    return joined_view(call, members)


def join_meeting(code, caller, protocol):
    """Join the meeting of a code that its clients chose, speaking `protocol`; the
    first joiner opens it (a new one once its last member has left)."""
    check_guest(caller, "meeting", PROTOCOLS[protocol])
    room = f"meeting:{code}"
    for _ in range(JOIN_ATTEMPTS):
        try:
            calls.create(room, "meeting", caller.account_id, protocol=protocol)
        except DuplicateKeyError:
            pass  # open already
        try:
            return join_call(room, caller, protocol)
        except NotFound:  # its last member left meanwhile, which ended it
            continue
    raise NotFound(CALL_NOT_FOUND)


def refusal(call_id):
    """Why a join was not added: the call ended (404) or is full (409)."""
    call = calls.find(call_id)
    if call is None or call["status"] != "open":
        return NotFound(CALL_NOT_FOUND)
    return Conflict(f"The call is full (at most {setting('CALL_MAX_PARTICIPANTS')} "
                    "participants)")


def remove_member(call, member, replaced=False):
    """Take the member out; the others are told, and a replaced socket is told its
    call ended. Whether it was still there."""
    if not calls.remove_member(call["_id"], member["sid"]):
        return False
    call_history.record_leave(call["_id"], member["sid"])
    protocol_of(call).member_left(call, member, replaced)
    return True


def depart(call, member):
    """A member leaves; the call ends when it was the last one."""
    if remove_member(call, member):
        ended = calls.end(call["_id"], "left", only_if_empty=True)
        if ended is not None:
            protocol_of(ended).ended(ended, "left")


def leave_call(room, caller):
    call = calls.find_open(room, with_messages=False)
    member = call and member_of_socket(call, caller.sid)
    if not member:
        raise NotFound(NOT_IN_CALL)
    depart(call, member)


def leave_calls_of_socket(sid):
    """A disconnected socket leaves every call it was in."""
    for call in calls.open_calls_of_socket(sid):
        member = member_of_socket(call, sid)
        if member is not None:
            depart(call, member)


# Ending.

def end_call(room, caller):
    """End the call for everyone: a meeting by its creator, a ride or direct call by
    either party."""
    call = open_call(room)
    if call["kind"] == "meeting" and call["createdBy"] != caller.account_id:
        raise Forbidden(ONLY_CREATOR)
    if call["kind"] != "meeting" and caller.account_id not in call["parties"]:
        raise Forbidden(NOT_A_PARTY)
    close(call, "ended")


def close(call, reason):
    """End the call; its members and parties are told as its protocol says."""
    ended = calls.end(call["_id"], reason)
    if ended is not None:
        call_history.record_end(ended["_id"])
        protocol_of(ended).ended(ended, reason)


def close_ride_call(ride_id, reason):
    """The ride ended or was cancelled (`reason`): its call, if open, ends."""
    call = calls.find_open(f"ride:{ride_id}", with_messages=False)
    if call is not None:
        close(call, reason)


# HTTP: ICE servers and history.

def ice_servers(account_id):
    """The RTCConfiguration's `iceServers` for the account, and their TTL."""
    ttl = setting("TURN_TTL_SECONDS")
    servers = turn.ice_servers(setting("STUN_URLS"), setting("TURN_URLS"),
                               setting("TURN_SECRET"), ttl, account_id, time.time())
    return {"iceServers": servers, "ttl": ttl}


def history(account_id, limit, before=None, kind=None):
    """`(joins newest first, next)`: the calls (of `kind`, if given) the account joined."""
    return call_history.page(account_id, limit, before, kind)

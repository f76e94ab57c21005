"""What the members of a call room are told, and how they name each other.

`Protocol` is Ridewire's own: members are named by account id, an account is in a room
once (a join from another socket replaces the previous one), and the members hear
`call-member-joined`, `call-member-left`, `signal {room, from, data}`, `call-message`
(the others; the sender gets it as its acknowledgement) and `call-ended`. A layer above
adds the protocol of other clients with `add_protocol(name, protocol)` and opens
meetings that speak it (`service.join_meeting`); a call stores the name of its
protocol (`protocol`, absent for Ridewire's own) and is joined only by its speakers.
Every push goes through the notifier, dumped with the schemas of
realtime_service.calls.schemas.
"""
from realtime_service.calls.schemas import (
    CallEnded,
    CallMessageOut,
    MemberJoined,
    MemberLeft,
    SignalOut,
)
from realtime_service.sockets import notifier

JOINED, LEFT, ENDED = MemberJoined(), MemberLeft(), CallEnded()
SIGNAL, MESSAGE = SignalOut(), CallMessageOut()


def sids(members, but=None):
    """The socket ids of `members` (but `but`), in join order."""
    return [member["sid"] for member in members if member["sid"] != but]


class Protocol:
    """Ridewire's events: members named by account id, one socket per account."""

    # Members named by socket id instead: an account may be in the room from several
    # sockets, and guests (no account) may join a meeting (CALL_GUESTS).
    by_socket = False

    def member_joined(self, call, members, joiner):
        """`joiner` joined `call` (read with its messages); `members` are those up to
        it, it last."""
        notifier.to_sockets(sids(members, but=joiner["sid"]), "call-member-joined",
                            JOINED.dump({"room": call["key"], "member": joiner}))

    def member_left(self, call, member, replaced=False):
        """`member` left `call` (read before it left); `replaced` by a join of its
        account from another socket."""
        notifier.to_sockets(sids(call["members"], but=member["sid"]), "call-member-left",
                            LEFT.dump({"room": call["key"], "accountId": member["accountId"]}))
        if replaced:
            notifier.to_socket(member["sid"], "call-ended",
                               ENDED.dump({"room": call["key"], "reason": "replaced"}))

    def signal(self, call, sender, target, data):
        """Relay `data` from the member `sender` to the member `target`."""
        notifier.to_socket(target["sid"], "signal", SIGNAL.dump(
            {"room": call["key"], "sender": sender["accountId"], "data": data}))

    def message(self, call, message):
        """A stored chat message (from the socket `message["sid"]`) to the members;
        what its sender is answered."""
        payload = MESSAGE.dump({**message, "room": call["key"]})
        notifier.to_sockets(sids(call["members"], but=message["sid"]), "call-message", payload)
        return payload

    def ended(self, call, reason):
        """`call` ended: its members and parties are told why."""
        payload = ENDED.dump({"room": call["key"], "reason": reason})
        notifier.push_many(call["parties"], "call-ended", payload, sids=sids(call["members"]))


PROTOCOLS = {None: Protocol()}


def add_protocol(name, protocol):
    """Rooms opened with `name` speak `protocol` (a `Protocol` subclass instance)."""
    PROTOCOLS[name] = protocol


def protocol_of(call):
    return PROTOCOLS[call.get("protocol")]

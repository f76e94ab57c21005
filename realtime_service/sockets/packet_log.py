"""The packets a recovering socket may have missed, and the sessions of sockets that
dropped: in this process (MemoryLog) or in a Redis Stream shared by every realtime
process (RedisLog, see realtime_service.sockets.delivery for how it is published).

A packet is logged with the rooms it went to and the sockets it skipped, under an
offset that is appended to the event's arguments (the Socket.IO protocol's place for
it: socket.io-client keeps the last one and sends it back when it reconnects). A log
is bounded by age (the recovery window) and length (and, in memory, bytes): an absent
or slow client costs the log nothing of its own.
"""
import json
import secrets
import time
from collections import OrderedDict, deque
from dataclasses import asdict, dataclass

import redis


@dataclass
class Session:
    """What a dropped socket gets back: its id and rooms, whose it is, and the offset
    after which its packets are replayed when its client sent none."""
    sid: str
    pid: str
    account_id: str
    rooms: list
    since: str


@dataclass
class Logged:
    offset: int
    rooms: object  # a room name, a list of them, or None for the whole namespace
    skip: tuple
    packet: str  # the encoded Socket.IO packet, offset included
    size: int
    at: float


def addressed_to(rooms, skip, session_rooms):
    """Whether a packet sent to `rooms` but not `skip` reached a socket in
    `session_rooms` (which hold its own id)."""
    if any(room in skip for room in session_rooms):
        return False
    if rooms is None:
        return True
    if isinstance(rooms, str):
        return rooms in session_rooms
    return any(room in session_rooms for room in rooms)


def targets(rooms):
    """The rooms a packet is indexed under: its room, each of its rooms (once), or None
    for the whole namespace."""
    if rooms is None or isinstance(rooms, str):
        return (rooms,)
    return tuple(dict.fromkeys(rooms))


class Reached:
    """`addressed_to` on a Stream entry's JSON fields, for one session's rooms. A replay
    reads every entry after its offset, most of them sent to other rooms: those are
    told by their text, without decoding it (a room of the session, as json.dumps
    writes it, is not in it)."""

    def __init__(self, session_rooms):
        self.rooms = session_rooms
        self.texts = [json.dumps(room) for room in session_rooms]

    def __call__(self, rooms, skip):
        if rooms != "null" and not any(text in rooms for text in self.texts):
            return False
        return addressed_to(json.loads(rooms), json.loads(skip), self.rooms)


class MemoryLog:
    """One process's log: offsets are `<epoch>:<n>`, the epoch new with every process,
    so an offset from a process that restarted is never mistaken for one of this one."""

    def __init__(self, window, max_packets, max_bytes):
        self.window, self.max_packets, self.max_bytes = window, max_packets, max_bytes
        self.epoch = secrets.token_hex(4)
        self.packets = deque()
        self.logged = {}  # offset -> Logged, the same packets
        self.by_room = {}  # room (None: the whole namespace) -> deque of its offsets
        self.next, self.bytes = 1, 0
        self.sessions = OrderedDict()  # pid -> (Session, saved at), oldest first

    def position(self):
        """The offset of the last packet logged: where a new socket's replay starts."""
        return f"{self.epoch}:{self.next - 1}"

    def append(self, rooms, skip, encode):
        """Log the packet `encode(offset)` builds; return the encoded packet."""
        offset = self.next
        self.next += 1
        packet = encode(f"{self.epoch}:{offset}")
        logged = self.logged[offset] = Logged(offset, rooms, tuple(skip), packet, len(packet),
                                              time.monotonic())
        self.packets.append(logged)
        for room in targets(rooms):
            self.by_room.setdefault(room, deque()).append(offset)
        self.bytes += len(packet)
        self._trim()
        return packet

    def _trim(self):
        oldest = time.monotonic() - self.window
        while self.packets and (len(self.packets) > self.max_packets
                                or self.bytes > self.max_bytes
                                or self.packets[0].at < oldest):
            logged = self.packets.popleft()
            del self.logged[logged.offset]
            self.bytes -= logged.size
            for room in targets(logged.rooms):
                offsets = self.by_room[room]
                offsets.popleft()
                if not offsets:
                    del self.by_room[room]

    def save(self, session):
        self._expire_sessions()
        self.sessions[session.pid] = (session, time.monotonic())
        self.sessions.move_to_end(session.pid)

    def take(self, pid):
        self._expire_sessions()
        saved = self.sessions.pop(pid, None)
        return saved[0] if saved else None

    def _expire_sessions(self):
        """Forget the sessions saved before the window, looking at those only."""
        oldest = time.monotonic() - self.window
        while self.sessions and next(iter(self.sessions.values()))[1] < oldest:
            self.sessions.popitem(last=False)

    def missed(self, offset, rooms):
        """The encoded packets after `offset` addressed to `rooms`, or None when some
        of them may be gone (the offset is too old, or from another process)."""
        self._trim()
        epoch, _, number = offset.partition(":")
        if epoch != self.epoch or not number.isdigit():
            return None
        after = int(number)
        first = self.packets[0].offset if self.packets else self.next
        if after < first - 1 or after >= self.next:
            return None
        found = set()
        for room in (None, *rooms):  # each room's packets from the newest: only the missed
            for logged_offset in reversed(self.by_room.get(room, ())):
                if logged_offset <= after:
                    break
                found.add(logged_offset)
        missed = (self.logged[logged_offset] for logged_offset in sorted(found))
        return [(f"{self.epoch}:{logged.offset}", logged.packet) for logged in missed
                if addressed_to(logged.rooms, logged.skip, rooms)]


# Adds an entry to the Stream (KEYS[1]) and its id to the index of each of its rooms
# (the other KEYS: sorted sets of ids by their milliseconds), trims them of what is
# older than the window (ARGV[2], "<ms>-0"), and publishes the message with the id in
# place.
PUBLISH_LUA = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*',
                      'r', ARGV[3], 'x', ARGV[4], 'e', ARGV[5])
redis.call('XTRIM', KEYS[1], 'MINID', ARGV[2])
local ms = tonumber(string.match(id, '^%d+'))
local oldest = string.match(ARGV[2], '^%d+')
for i = 2, #KEYS do
  redis.call('ZADD', KEYS[i], ms, id)
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', '(' .. oldest)
  redis.call('PEXPIRE', KEYS[i], ARGV[9])
end
redis.call('PUBLISH', ARGV[6], ARGV[7] .. id .. ARGV[8])
return id
"""


class RedisLog:
    """The log in a Redis Stream (entries `r` rooms, `x` skipped sockets, `e` the event
    and its arguments as JSON), an index per room of the ids of its entries (a sorted
    set, gone once idle for two windows), and the sessions as keys that expire with
    the window. Offsets are the Stream's entry ids."""

    def __init__(self, client, window, max_packets, prefix="ridewire:recovery"):
        self.redis, self.window, self.max_packets = client, window, max_packets
        self.stream, self.prefix = f"{prefix}:log", prefix
        self.previous = f"{prefix}:packets"  # the Stream of versions without indexes
        self.seen = "0-0"  # the last offset this process delivered
        self.publish_script = client.register_script(PUBLISH_LUA)

    def index(self, room):
        """The key of a room's index (None: the events to the whole namespace)."""
        return f"{self.prefix}:all" if room is None else f"{self.prefix}:room:{room}"

    def publish(self, rooms, skip, event, channel, before, after):
        """Log `event` (JSON) for `rooms` but `skip`, and publish `before` + its entry id
        + `after` on `channel`; the entry id."""
        return self.publish_script(
            keys=[self.stream, *map(self.index, targets(rooms))],
            args=[self.max_packets, self.oldest(), json.dumps(rooms), json.dumps(skip), event,
                  channel, before, after, int(self.window * 2000)])

    def oldest(self):
        """The first entry id within the window (by this host's clock)."""
        return f"{int((time.time() - self.window) * 1000)}-0"

    def position(self):
        if self.seen == "0-0":  # nothing delivered yet: the Stream's last entry
            try:
                last = self.redis.xrevrange(self.stream, count=1)
            except redis.RedisError:  # the connection is refused for presence anyway
                return self.seen
            self.seen = last[0][0] if last else "0-0"
        return self.seen

    def save(self, session):
        self.redis.set(f"{self.prefix}:session:{session.pid}", json.dumps(asdict(session)),
                       ex=max(int(self.window), 1))

    def take(self, pid):
        saved = self.redis.getdel(f"{self.prefix}:session:{pid}")
        return Session(**json.loads(saved)) if saved else None

    def missed(self, offset, rooms):
        """(offset, [event, *args]) of the entries after `offset` addressed to `rooms`,
        or None when some entry after it was trimmed (or the offset is not one). Read
        through the rooms' indexes: the entries of other rooms are not read. Checked
        after the read: an entry trimmed between a check and the read would be missed."""
        if not is_stream_id(offset) or self.previous_version_after(offset):
            return None
        entries = self.entries(self.indexed_after(offset, rooms))
        if not self.kept_after(offset):
            return None
        reached = Reached(rooms)
        return [(entry_id, json.loads(fields["e"])) for entry_id, fields in entries
                if reached(fields["r"], fields["x"])]

    def previous_version_after(self, offset):
        """Whether a process of a previous version (while an upgrade rolls out) logged
        an event after `offset` where no index finds it: then the session is not
        recovered. That Stream is deleted once it has nothing within the window."""
        last = self.redis.xrevrange(self.previous, count=1)
        if last and stream_id(last[0][0]) < stream_id(self.oldest()):
            self.redis.delete(self.previous)
        return bool(last) and stream_id(last[0][0]) > stream_id(offset)

    def indexed_after(self, offset, rooms):
        """The ids after `offset` of the entries to `rooms` or to everyone, in order."""
        after = stream_id(offset)
        pipe = self.redis.pipeline(transaction=False)
        for room in (None, *rooms):
            pipe.zrangebyscore(self.index(room), after[0], "+inf")
        found = {entry_id for ids in pipe.execute() for entry_id in ids}
        return sorted((entry_id for entry_id in found if stream_id(entry_id) > after),
                      key=stream_id)

    def entries(self, ids):
        """The Stream's entries of these ids (those still in it), in order."""
        pipe = self.redis.pipeline(transaction=False)
        for entry_id in ids:
            pipe.xrange(self.stream, min=entry_id, max=entry_id)
        return [found[0] for found in pipe.execute() if found]

    def kept_after(self, offset):
        """Whether every entry after `offset` is still in the Stream. It is only trimmed
        from its oldest end, so: yes when `offset` is not older than the first entry
        kept, when nothing was ever trimmed, or when the Stream is empty and had
        nothing after `offset`."""
        if not self.redis.exists(self.stream):
            return True
        info = self.redis.xinfo_stream(self.stream)
        if info["entries-added"] == info["length"]:  # nothing was ever trimmed
            return True
        if info["length"]:
            return stream_id(offset) >= stream_id(info["first-entry"][0])
        return stream_id(offset) >= stream_id(info["last-generated-id"])


def is_stream_id(offset):
    milliseconds, _, sequence = offset.partition("-")
    return milliseconds.isdigit() and sequence.isdigit() and len(offset) < 40


def stream_id(offset):
    milliseconds, _, sequence = offset.partition("-")
    return int(milliseconds), int(sequence or 0)

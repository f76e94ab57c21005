"""python-socketio client managers that log every event they emit, for connection
state recovery, and deliver it so that a recovering socket gets each packet once, in
order.

Every event (but one waiting for an acknowledgement, as in Socket.IO's own server)
gets an offset as its last argument. In one process (LogManager) the offset is taken
from the in-memory log as the packet is sent. With Redis (StreamManager), one script
adds the packet to the Stream and publishes it, so the offsets and the order in which
every process receives the packets are the Stream's; each process, the emitting one
included, delivers what it receives from the channel.

While a socket is being recovered its live packets are held, then sent after the
replayed ones, those already replayed dropped. A socket whose outgoing queue passes
SOCKET_MAX_QUEUED_PACKETS (a client that does not read) is closed instead of queued
to: it recovers what it missed from the log when it comes back.
"""
import logging
import secrets

import redis
import socketio
from engineio import packet as eio_packet
from socketio import packet

from realtime_service.sockets.frames import FramesPacket
from realtime_service.sockets.packet_log import stream_id

log = logging.getLogger(__name__)

# Where the Stream's entry id goes in the published message: unguessable, so that no
# payload can hold it.
PLACEHOLDER = f"\x00offset-{secrets.token_hex(8)}\x00"


def as_arguments(data):
    """python-socketio's rule: a tuple is several arguments, anything else one."""
    if isinstance(data, tuple):
        return list(data)
    return [] if data is None else [data]


class Delivery:
    """What both managers add to python-socketio's local delivery: recovery holds, the
    outgoing queue bound, and the offset of a socket's last replayed packet."""

    def init_delivery(self, log_, max_queued):
        self.log, self.max_queued = log_, max_queued
        self.volatile = frozenset()  # events not logged (see recovery.client_manager)
        self.held = {}  # sid -> [(offset, encoded packet)] while it is recovered
        self.raw_frames = False  # whether websockets take RawFrames (transport)

    def deliver(self, namespace, rooms, skip, offset, encoded):
        """Send one encoded event to the sockets of `rooms` in this process."""
        pkt = eio_packet.Packet(eio_packet.MESSAGE, encoded)
        for sid, eio_sid in self.get_participants(namespace, rooms):
            if sid in skip:
                continue
            if sid in self.held:
                self.held[sid].append((offset, encoded))
            elif self.backlog(eio_sid) >= self.max_queued:
                self.close_slow(eio_sid)
            else:
                self.server._send_eio_packet(eio_sid, pkt)

    def deliver_many(self, namespace, rooms, skip, packets):
        """Send several `(offset, encoded)` events, in order, to the sockets of `rooms`
        in this process: to a websocket as one FramesPacket (one write)."""
        single = [eio_packet.Packet(eio_packet.MESSAGE, encoded) for _, encoded in packets]
        framed = None
        for sid, eio_sid in self.get_participants(namespace, rooms):
            if sid in skip:
                continue
            if sid in self.held:
                self.held[sid].extend(packets)
            elif self.backlog(eio_sid) >= self.max_queued:
                self.close_slow(eio_sid)
            elif self.on_websocket(eio_sid):
                framed = framed or FramesPacket(single)
                self.server._send_eio_packet(eio_sid, framed)
            else:
                for pkt in single:
                    self.server._send_eio_packet(eio_sid, pkt)

    def emit_many(self, events, namespace, room, skip_sid=None):
        """Several `(event, data)` to the same rooms, in order (LogManager sends them
        together; here one emit each)."""
        for event, data in events:
            self.emit(event, data, namespace, room=room, skip_sid=skip_sid)

    def on_websocket(self, eio_sid):
        """Whether the socket's packets are written by a websocket that takes RawFrames."""
        socket = self.server.eio.sockets.get(eio_sid) if self.raw_frames else None
        return socket is not None and socket.upgraded

    def backlog(self, eio_sid):
        socket = self.server.eio.sockets.get(eio_sid)
        return socket.queue.qsize() if socket is not None else 0

    def close_slow(self, eio_sid):
        log.warning("closing a socket that does not read (outgoing queue full)")
        self.server.start_background_task(self.server.eio.disconnect, eio_sid)

    def encode_event(self, namespace, event, arguments):
        pkt = self.server.packet_class(packet.EVENT, namespace=namespace,
                                       data=[event, *arguments])
        return pkt.encode()

    def hold(self, sid):
        self.held[sid] = []

    def release(self, sid, replayed, after):
        """Send the replayed packets, then what was held for `sid` past `after` (the
        last replayed offset) and the volatile events held (no offset)."""
        held = self.held.pop(sid, [])
        eio_sid = self.eio_sid_from_sid(sid, "/")
        if eio_sid is None:
            return
        for _, encoded in replayed:
            self.server._send_eio_packet(eio_sid, eio_packet.Packet(eio_packet.MESSAGE, encoded))
        for offset, encoded in held:
            if offset is None or after is None or self.later(offset, after):
                self.server._send_eio_packet(
                    eio_sid, eio_packet.Packet(eio_packet.MESSAGE, encoded))

    def drop_hold(self, sid):
        self.held.pop(sid, None)


class LogManager(Delivery, socketio.Manager):
    """One process: the log is in memory."""

    def __init__(self, log_, max_queued):
        super().__init__()
        self.init_delivery(log_, max_queued)

    def emit(self, event, data, namespace, room=None, skip_sid=None, callback=None,
             to=None, **kwargs):
        rooms = to or room
        if callback is not None:
            return super().emit(event, data, namespace, room=rooms, skip_sid=skip_sid,
                                callback=callback, **kwargs)
        skip = skipped(skip_sid)
        if event in self.volatile:  # delivered (after a hold, like any event), not logged
            return self.deliver(namespace, rooms, skip, None,
                                self.encode_event(namespace, event, as_arguments(data)))
        self.deliver(namespace, rooms, skip, *self.log_event(event, data, namespace, rooms, skip))

    def emit_many(self, events, namespace, room, skip_sid=None):
        """Several `(event, data)` to the same rooms: each logged (an offset each) and
        encoded once, then written together (`deliver_many`)."""
        skip = skipped(skip_sid)
        packets = [self.log_event(event, data, namespace, room, skip) for event, data in events]
        self.deliver_many(namespace, room, skip, packets)

    def log_event(self, event, data, namespace, rooms, skip):
        """Log one event for `rooms` (but the sockets in `skip`): `(offset, encoded)`."""
        arguments, offsets = as_arguments(data), []

        def encode(offset):
            offsets.append(offset)
            return self.encode_event(namespace, event, [*arguments, offset])

        encoded = self.log.append(rooms, [s for s in skip if s], encode)
        return offsets[0], encoded

    def replay(self, offset, rooms):
        return self.log.missed(offset, rooms)

    @staticmethod
    def later(offset, after):
        return int(offset.partition(":")[2]) > int(after.partition(":")[2])


class StreamDelivery(Delivery, socketio.Manager):
    """The local half of StreamManager: python-socketio's pub/sub manager hands what it
    receives from the channel to the next class in line, this one."""

    def emit(self, event, data, namespace, room=None, skip_sid=None, callback=None,
             to=None, **kwargs):
        arguments = as_arguments(data)
        rooms = to or room
        if callback is not None:
            return super().emit(event, data, namespace, room=rooms, skip_sid=skip_sid,
                                callback=callback, **kwargs)
        offset = arguments[-1] if arguments and isinstance(arguments[-1], str) \
            and is_offset(arguments[-1]) else None  # None: a volatile event, not logged
        if offset is not None:
            self.log.seen = max(self.log.seen, offset, key=stream_id)
        self.deliver(namespace or "/", rooms, skipped(skip_sid), offset,
                     self.encode_event(namespace or "/", event, arguments))

    def replay(self, offset, rooms):
        missed = self.log.missed(offset, rooms)
        if missed is None:
            return None
        return [(entry_id, self.encode_event("/", event[0], [*event[1:], entry_id]))
                for entry_id, event in missed]

    @staticmethod
    def later(offset, after):
        return stream_id(offset) > stream_id(after)


def skipped(skip_sid):
    """The socket ids an emit skips, as a set: each member of a room is looked up in it."""
    return frozenset(skip_sid) if isinstance(skip_sid, list) else frozenset((skip_sid,))


def is_offset(value):
    milliseconds, dash, sequence = value.partition("-")
    return bool(dash) and milliseconds.isdigit() and sequence.isdigit()


class StreamManager(socketio.RedisManager, StreamDelivery):
    """Several processes: the log is a Redis Stream (see the module's docstring)."""

    def __init__(self, url, log_, max_queued, channel="flask-socketio"):
        super().__init__(url, channel=channel)
        self.init_delivery(log_, max_queued)

    def emit(self, event, data, namespace=None, room=None, skip_sid=None, callback=None,
             to=None, **kwargs):
        rooms = to or room
        if callback is not None or kwargs.get("ignore_queue") or event in self.volatile:
            return super().emit(event, data, namespace=namespace, room=rooms,
                                skip_sid=skip_sid, callback=callback, **kwargs)
        arguments = as_arguments(data)
        skip = [s for s in skipped(skip_sid) if s]
        message = self.json.dumps({"method": "emit", "event": event,
                                   "data": [*arguments, PLACEHOLDER], "binary": False,
                                   "namespace": namespace or "/", "room": rooms,
                                   "skip_sid": skip, "callback": None, "host_id": "log"})
        before, after = message.rsplit(self.json.dumps(PLACEHOLDER), 1)
        try:
            self.log.publish(rooms, skip, self.json.dumps([event, *arguments]), self.channel,
                             before + '"', '"' + after)
        except redis.RedisError:
            log.warning("Redis unavailable: %s delivered in this process only, not "
                        "kept for recovery", event)
            super().emit(event, data, namespace=namespace or "/", room=rooms,
                         skip_sid=skip_sid, ignore_queue=True)


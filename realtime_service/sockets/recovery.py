"""Connection state recovery, the Socket.IO v4 feature socket.io-client (4.6 and later)
already speaks: the CONNECT answer carries a private session id `pid` beside `sid`,
every event an offset as its last argument, and a client that reconnects sends back
`{pid, offset}` with its credentials. A socket that dropped (ping timeout, transport
closed, the server shutting down) within RECOVERY_WINDOW_SECONDS gets back its socket
id and rooms, then every packet it missed, each once and in order,
and the client sees `socket.recovered === true`. A client that never got an offset
is replayed from where its socket started. A client that closed its socket, a
socket the server ended (revoked or refused) and an anonymous one are not kept.

The application's connect handler still authenticates every reconnection, so a
revoked or expired credential is never recovered; `resumed(sid)` tells it that this
is a recovery (and a session of another account is abandoned, not recovered). The
packets and sessions live in realtime_service.sockets.packet_log, delivered by the
client managers of realtime_service.sockets.delivery.
"""
import json
import logging
import secrets

import redis
from bidict import ValueDuplicationError
from flask import current_app
from socketio import packet

from realtime_service.sockets.delivery import LogManager, StreamManager
from realtime_service.sockets.packet_log import MemoryLog, RedisLog, Session
from realtime_service.sockets.rooms import RoomIndex

log = logging.getLogger(__name__)

# How long a reconnection waits for the disconnect of its old socket to end.
TAKE_OVER_SECONDS = 10.0


class Sessions:
    """The manager's side of recovery: which pid each socket has, which sockets are
    being recovered, and the claims read from CONNECT packets."""

    def init_sessions(self):
        self.claims = {}  # eio_sid -> (pid, offset) of a CONNECT packet
        self.pids, self.live = {}, {}  # sid -> pid, pid -> sid of connected sockets
        self.since = {}  # sid -> log position when it connected
        self.recovering = {}  # sid -> (Session, missed packets) until it connects
        self.ended = set()
        self.leaving = {}  # sid -> the event its disconnect sets, for a take-over

    def pre_connect(self, eio_sid, namespace):
        """A new socket's packets, like a recovered one's, are held until its CONNECT
        answer is sent: an event before it (a push to the account's room while the
        connect handler runs) would reach a client that has not seen this session, and
        whose next reconnection, if this one fails, recovers its old session from an
        offset that event moved (a loss) or gets it again (socket.io-client buffers
        it: a duplicate)."""
        restored = self.restore(eio_sid, namespace)
        if restored is not None:
            return restored
        sid = super().pre_connect(eio_sid, namespace)
        if sid is not None:
            self.track(sid, secrets.token_urlsafe(16), self.log.position())
            self.hold(sid)
        return sid

    def track(self, sid, pid, since):
        self.pids[sid], self.live[pid], self.since[sid] = pid, sid, since

    def restore(self, eio_sid, namespace):
        """Connect the socket of the session its CONNECT packet claims, holding its live
        packets; None when there is no such session or its packets are gone."""
        claim = self.claims.pop(eio_sid, None)
        if claim is None:
            return None
        pid, offset = claim
        if not self.take_over(pid):
            log.warning("a session is not recovered: its old socket is still closing")
            return None
        try:
            session = self.log.take(pid)
        except redis.RedisError:
            log.warning("Redis unavailable: a session is not recovered")
            return None
        if session is None:
            return None
        sid = session.sid
        try:
            self.basic_enter_room(sid, namespace, None, eio_sid=eio_sid)
        except ValueDuplicationError:
            return None
        self.hold(sid)
        for room in {sid, *session.rooms}:
            self.basic_enter_room(sid, namespace, room, eio_sid=eio_sid)
        try:
            missed = self.replay(offset or session.since, [sid, *session.rooms])
        except redis.RedisError:
            log.warning("Redis unavailable: a session is not recovered")
            missed = None
        if missed is None:
            self.drop_hold(sid)
            self.basic_disconnect(sid, namespace)
            return None
        self.pending_connect.setdefault(namespace, []).append(sid)
        self.track(sid, pid, session.since)
        self.recovering[sid] = (session, missed, offset or session.since)
        return sid

    def take_over(self, pid):
        """A client back before its old socket is gone: close that one now (without
        waiting for a dead client to read the close), so that its session is saved, and
        wait until its disconnect has ended. That disconnect may already be under way in
        another greenlet (its transport closed first, and the handler waits on the
        database); ending after the recovery, it would take the recovered socket, which
        has the same sid, out of its rooms. False when it does not end within
        TAKE_OVER_SECONDS."""
        sid = self.live.get(pid)
        if sid is None:
            return True
        left = self.leaving.setdefault(sid, self.server.eio.create_event())
        transport = self.server.eio.sockets.get(self.eio_sid_from_sid(sid, "/"))
        if transport is not None:
            transport.close(wait=False, abort=True)
        if self.live.get(pid) != sid or left.wait(TAKE_OVER_SECONDS):
            return True
        self.leaving.pop(sid, None)
        return False

    def connect(self, sid, namespace):
        sid = super().connect(sid, namespace)
        recovering = self.recovering.pop(sid, None)
        if recovering is not None:
            _, missed, offset = recovering
            self.release(sid, missed, missed[-1][0] if missed else offset)
        else:
            self.release(sid, [], None)
        return sid

    def disconnect(self, sid, namespace, **kwargs):
        recovering = self.recovering.pop(sid, None)
        if recovering is not None and sid not in self.ended:
            self.log.save(recovering[0])  # dropped mid-handshake: it may try again
        self.drop_hold(sid)
        self.ended.discard(sid)
        self.since.pop(sid, None)
        pid = self.pids.pop(sid, None)
        if self.live.get(pid) == sid:
            del self.live[pid]
        result = super().disconnect(sid, namespace, **kwargs)
        left = self.leaving.pop(sid, None)
        if left is not None:
            left.set()
        return result

    def abandon(self, sid, namespace):
        """A claimed session that is not the connecting account's: a new session under
        a new pid, in none of the old rooms, nothing replayed."""
        self.recovering.pop(sid, None)
        self.hold(sid)  # anew: only the new session's packets
        for room in list(self.get_rooms(sid, namespace)):
            if room not in (sid, None):
                self.basic_leave_room(sid, namespace, room)
        self.live.pop(self.pids.get(sid), None)
        self.track(sid, secrets.token_urlsafe(16), self.log.position())


class MemorySessionManager(Sessions, RoomIndex, LogManager):
    def __init__(self, log_, max_queued):
        super().__init__(log_, max_queued)
        self.init_sessions()


class StreamSessionManager(Sessions, RoomIndex, StreamManager):
    def __init__(self, url, log_, max_queued):
        super().__init__(url, log_, max_queued)
        self.init_sessions()


def client_manager(config, volatile_events=()):
    """The python-socketio client manager of an app: Redis Streams with REDIS_URL.
    `volatile_events` are delivered to the sockets connected now and not kept."""
    window, max_packets = config["RECOVERY_WINDOW_SECONDS"], config["RECOVERY_MAX_PACKETS"]
    max_queued = config["SOCKET_MAX_QUEUED_PACKETS"]
    if config["REDIS_URL"]:
        client = redis.Redis.from_url(config["REDIS_URL"], decode_responses=True)
        manager = StreamSessionManager(config["REDIS_URL"], RedisLog(client, window, max_packets),
                                       max_queued)
    else:
        manager = MemorySessionManager(
            MemoryLog(window, max_packets, config["RECOVERY_MAX_BYTES"]), max_queued)
    manager.volatile = frozenset(volatile_events)
    return manager


def packet_class(base, manager):
    """`base` whose CONNECT answer carries the socket's `pid`."""

    class RecoveryPacket(base):
        def encode(self):
            if self.packet_type == packet.CONNECT and isinstance(self.data, dict) \
                    and self.data.get("sid") in manager.pids:
                self.data = {**self.data, "pid": manager.pids[self.data["sid"]]}
            return super().encode()

    return RecoveryPacket


def read_handshakes(server):
    """Keep the `pid` and `offset` a CONNECT packet carries, for the manager's
    pre_connect (chained to the Socket.IO server's Engine.IO `message` handler)."""
    handle_message = server.eio.handlers["message"]

    def on_eio_message(eio_sid, data):
        if isinstance(data, str) and data.startswith("0{"):
            claim = parse_claim(data[1:])
            if claim:
                server.manager.claims[eio_sid] = claim
        return handle_message(eio_sid, data)

    server.eio.on("message", on_eio_message)


def parse_claim(text):
    try:
        auth = json.loads(text)
    except ValueError:
        return None
    pid, offset = auth.get("pid"), auth.get("offset")
    if not isinstance(pid, str) or len(pid) > 64:
        return None
    return pid, offset if isinstance(offset, str) and len(offset) <= 64 else None


def resumed(sid):
    """The session a connecting socket recovers, or None for a new one."""
    recovering = manager().recovering.get(sid)
    return recovering[0] if recovering else None


def abandon(sid):
    manager().abandon(sid, "/")


def end(sid):
    """The server ended this socket on purpose: it is not to be recovered."""
    manager().ended.add(sid)


def persist(sid, account_id, reason):
    """Keep a dropped socket's session for the window, unless it was ended on purpose
    by the server or its client; whether it was kept. Whatever closed its transport (a
    network drop, the server shutting down, or an Engine.IO close, which a polling
    client sends when its requests fail) it may come back, as in Socket.IO's own
    server."""
    sessions = manager()
    if sid in sessions.ended or sid not in sessions.pids or left(sessions, sid, reason):
        return False
    rooms = [room for room in sessions.get_rooms(sid, "/") if room not in (sid, None)]
    try:
        sessions.log.save(Session(sid=sid, pid=sessions.pids[sid], account_id=account_id,
                                  rooms=rooms, since=sessions.since[sid]))
    except redis.RedisError:
        log.warning("Redis unavailable: a dropped socket's session is not kept")
        return False
    return True


def left(sessions, sid, reason):
    """A client's own DISCONNECT packet (`socket.disconnect()`): python-socketio names
    it as it names an Engine.IO close, but the transport is still open, or its socket
    noted the packet before the close that came right behind it
    (transport.LeanSocket)."""
    transport = sessions.server.eio.sockets.get(sessions.eio_sid_from_sid(sid, "/"))
    if getattr(transport, "client_left", False):
        return True
    return reason == "client disconnect" and (transport is None or not transport.closing)


def manager():
    return current_app.extensions["socketio"].server.manager

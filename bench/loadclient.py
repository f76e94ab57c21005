"""Lean load clients and the processes that run them.

- `Socket`: a Socket.IO client over raw websocket frames (asyncio streams, no
  polling). It answers Engine.IO pings, counts frames and bytes per event, takes
  acknowledgements, and only JSON-decodes the events a scenario asked for, so one
  process can hold thousands of connections through a `getOnlineUsers` storm. It
  speaks connection state recovery as socket.io-client does: it keeps the `pid` of the
  CONNECT answer and the last event's offset, and `resume()` reconnects with both
  after a `drop()`.
- `Http`: one HTTP/1.1 keep-alive connection (JSON in, status and JSON out).
- `Fleet`: load-client worker processes driven by commands from the scenario; every
  reply carries the worker's own CPU seconds so that a saturated client is visible.

Loopback only; every wait has a timeout.
"""
import asyncio
import base64
import importlib
import json
import multiprocessing
import os
import struct
import time
import traceback
import zlib
from collections import Counter, defaultdict

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10
# The RFC wants a random mask; a zero mask keeps payloads as they are (no XOR in
# Python) and servers accept it. This is a load client, not a browser.
ZERO_MASK = b"\x00\x00\x00\x00"


def ws_frame(opcode, payload):
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    return header + ZERO_MASK + payload


class Socket(asyncio.Protocol):
    """One Socket.IO connection (namespace "/") over a websocket.

    `handlers` maps an event name to `callback(data, received_at)`; other events are
    only counted (`frames`, `bytes` and the time of the last one, `last_at`, per event
    name). Frames are parsed from the
    received bytes in place (a Protocol, not streams: no await per frame).

    Recovery, as socket.io-client does it: `pid` is the CONNECT answer's, `offset` the
    last argument of the latest event when it is a string (read from the raw packet,
    not decoded, and set before the event's handler runs; an event that arrives before
    the CONNECT answer is handled after it, as socket.io-client buffers it, even when
    that connection fails and a later one answers); `resume()` after `drop()`
    sends both back, and `recovered` says whether the answer had the same `pid`.
    `ended_by_server`: the server sent DISCONNECT, after which socket.io-client does not
    reconnect."""

    EXTENSIONS = ""  # the handshake's Sec-WebSocket-Extensions header line, if any

    def __init__(self, handlers=None):
        self.handlers = handlers or {}
        self.frames, self.bytes, self.last_at = Counter(), Counter(), {}
        self.sid = self.transport = self.token = None
        self.auth = {}
        self.pid = self.offset = self.connected_at = None
        self.recovered = self.ended_by_server = self.connected = False
        self.unconnected, self.early = [], 0  # events received before a CONNECT answer
        self.address = None
        self.buffer, self.fragments, self.upgraded = bytearray(), [], False
        self.closed = asyncio.Event()
        self.ready = None
        self.acks, self.next_ack = {}, 0  # ack id -> callback(answer, received_at)
        self.compressed = self.deflated = False

    async def connect(self, host, port, token, timeout=30.0, query="", auth=None):
        """Open the websocket, authenticate; raise ConnectionError when refused. `query`
        (e.g. "&userId=...") is added to the handshake URL, as QuickChat's client does;
        `auth`, more of the CONNECT's auth payload (e.g. {"presence": "batch"})."""
        self.address, self.token = (host, port, query), token
        self.auth = auth or {}
        await self._open(timeout)
        return self

    async def _open(self, timeout):
        loop = asyncio.get_running_loop()
        host, port, query = self.address
        self.ready = loop.create_future()
        async with asyncio.timeout(timeout):
            try:
                await loop.create_connection(lambda: self, host, port)
                key = base64.b64encode(os.urandom(16)).decode()
                self.transport.write((
                    f"GET /socket.io/?EIO=4&transport=websocket{query} HTTP/1.1\r\n"
                    f"Host: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                    f"{self.EXTENSIONS}\r\n"
                ).encode())
                await self.ready
            except BaseException:
                if self.transport is not None:
                    self.transport.close()
                raise

    def drop(self):
        """Lose the connection as a network cut does: no close frame, no DISCONNECT."""
        if self.transport is not None:
            self.transport.abort()

    async def resume(self, timeout=30.0):
        """Reconnect after the connection was lost (`drop()`, or closed by the server):
        a new websocket whose CONNECT carries the token, `pid` and `offset`. Returns
        `recovered`: the server answered with the same `pid` (same session)."""
        if self.transport is not None:  # wait for the old one's connection_lost
            async with asyncio.timeout(timeout):
                await self.closed.wait()
        self.buffer, self.fragments, self.upgraded = bytearray(), [], False
        self.closed, self.transport = asyncio.Event(), None
        await self._open(timeout)
        return self.recovered

    def connection_made(self, transport):
        self.transport = transport

    def connection_lost(self, exc):
        self.closed.set()
        self.connected = False
        if self.ready is not None and not self.ready.done():
            self.ready.set_exception(ConnectionResetError("closed during the handshake"))

    def data_received(self, data):
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.buffer.startswith(b"HTTP/1.1 101"):
                self._fail(self.buffer[:end].split(b"\r\n", 1)[0].decode())
                return
            self.deflated = b"permessage-deflate" in self.buffer[:end].lower()
            del self.buffer[:end + 4]
            self.upgraded = True
        self._parse_frames()

    def _parse_frames(self):
        buf, pos, size = self.buffer, 0, len(self.buffer)
        while size - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            n, head = b1 & 0x7F, 2
            if n == 126:
                if size - pos < 4:
                    break
                n, head = int.from_bytes(buf[pos + 2:pos + 4], "big"), 4
            elif n == 127:
                if size - pos < 10:
                    break
                n, head = int.from_bytes(buf[pos + 2:pos + 10], "big"), 10
            if b1 & 0x80:
                head += 4  # servers do not mask; skip the key if one does
            if size - pos < head + n:
                break
            payload = bytes(buf[pos + head:pos + head + n])
            pos += head + n
            self._frame(b0, payload)
        del buf[:pos]

    def _frame(self, b0, payload):
        opcode = b0 & 0x0F
        if opcode == OP_PING:
            self.transport.write(ws_frame(OP_PONG, payload))
        elif opcode == OP_CLOSE:
            self.transport.close()
        elif opcode in (OP_TEXT, OP_BINARY, OP_CONT):
            if opcode != OP_CONT:
                self.compressed = bool(b0 & 0x40)  # RSV1: permessage-deflate
            self.fragments.append(payload)
            if b0 & 0x80:
                message = b"".join(self.fragments)
                self.fragments = []
                if self.compressed:
                    message = self.inflate(message)
                self._message(message.decode())

    def inflate(self, message):
        """A compressed message's bytes (only a DeflateSocket is sent any)."""
        raise ConnectionError("a compressed message that was never negotiated")

    def _message(self, packet):
        if packet == "2":
            self.send_raw("3")  # Engine.IO ping -> pong
        elif packet.startswith("42"):
            received = time.monotonic()
            end = packet.find('"', 4)
            event = packet[4:end]
            self.frames[event] += 1
            self.bytes[event] += len(packet)
            self.last_at[event] = received
            if self.connected:
                self._event(event, packet, received)
            else:  # socket.io-client: handled once connected (the buffer is kept)
                self.unconnected.append((event, packet, received))
                self.early += 1
        elif packet.startswith("43"):
            start = packet.index("[")
            callback = self.acks.pop(int(packet[2:start]), None)
            if callback is not None:
                answer = json.loads(packet[start:])
                callback(answer[0] if answer else None, time.monotonic())
        elif packet.startswith("0"):
            auth = {"token": self.token, **self.auth}
            if self.pid is not None:  # socket.io-client: pid and offset once it has a pid
                auth.update(pid=self.pid, offset=self.offset)
            self.send_raw("40" + json.dumps(auth))
        elif packet.startswith("40"):
            answer = json.loads(packet[2:])
            pid = answer.get("pid")
            self.recovered = pid is not None and pid == self.pid
            self.sid, self.pid, self.connected_at = answer["sid"], pid, time.monotonic()
            self.connected, buffered, self.unconnected = True, self.unconnected, []
            for event in buffered:
                self._event(*event)
            if not self.ready.done():
                self.ready.set_result(True)
        elif packet.startswith("44"):
            self._fail(packet[2:])
        elif packet.startswith("41") or packet == "1":
            # A Socket.IO DISCONNECT ends the session (socket.io-client does not come
            # back); an Engine.IO close only the transport.
            self.ended_by_server = packet.startswith("41")
            self.transport.close()

    def _event(self, event, packet, received):
        if self.pid is not None:
            self._note_offset(last_string(packet))
        handler = self.handlers.get(event)
        if handler is not None:
            handler(json.loads(packet[2:])[1], received)

    def _note_offset(self, offset):
        """An event's offset (None when its last argument is not a string)."""
        if offset is not None:
            self.offset = offset

    def _fail(self, reason):
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(reason))
        self.transport.close()

    def send_raw(self, text):
        self.transport.write(ws_frame(OP_TEXT, text.encode()))

    def emit(self, event, data):
        self.send_raw("42" + json.dumps([event, data]))

    def emit_with_ack(self, event, data, callback):
        """Emit asking for an acknowledgement: `callback(answer, received_at)` once it
        comes (never, if the connection closes first)."""
        ack_id, self.next_ack = self.next_ack, self.next_ack + 1
        self.acks[ack_id] = callback
        self.send_raw(f"42{ack_id}" + json.dumps([event, data]))

    async def close(self):
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(ws_frame(OP_CLOSE, b""))
            self.transport.close()


class DeflateSocket(Socket):
    """A Socket that offers permessage-deflate, as browsers and Node's `ws` do: what the
    server compresses is inflated here; what it sends, it sends uncompressed."""

    EXTENSIONS = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"

    def inflate(self, message):
        if not hasattr(self, "inflater"):
            self.inflater = zlib.decompressobj(-15)
        return self.inflater.decompress(message + b"\x00\x00\xff\xff")


def last_string(packet):
    """The last argument of an event packet (`42[...]`) when it is a string and not
    the event's name, else None: sliced from the raw text (an offset holds no quote or
    backslash), JSON-decoded only when the text is not that simple. An event that
    asks for an acknowledgement (`42<id>[...]`) has none, as in socket.io-client."""
    if not packet.endswith('"]') or packet[2] != "[":
        return None
    start = packet.rfind('"', 0, len(packet) - 2)
    if packet[start - 1] == "," and "\\" not in packet[start:]:
        return packet[start + 1:-2]
    arguments = json.loads(packet[2:])[1:]
    return arguments[-1] if arguments and isinstance(arguments[-1], str) else None


class Http:
    """One keep-alive HTTP/1.1 connection; reopened when the server closed it."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def request(self, method, path, body=None, headers=None, timeout=30.0):
        """`(status, parsed JSON or None)`."""
        async with asyncio.timeout(timeout):
            for attempt in (1, 2):
                if self.writer is None:
                    self.reader, self.writer = await asyncio.open_connection(self.host,
                                                                             self.port)
                try:
                    return await self._exchange(method, path, body, headers or {})
                except (asyncio.IncompleteReadError, ConnectionError) as error:
                    self.close()
                    if attempt == 2:
                        raise ConnectionError(f"{method} {path}: {error!r}") from None
                except BaseException:
                    # Timed out or cancelled mid-exchange: the response may still come,
                    # and the next request on this connection would read it as its own.
                    self.close()
                    raise

    async def _exchange(self, method, path, body, headers):
        data = b"" if body is None else json.dumps(body).encode()
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                 f"Content-Length: {len(data)}"]
        if body is not None:
            lines.append("Content-Type: application/json")
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + data)
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        fields = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        if fields.get("transfer-encoding") == "chunked":
            parts = []
            while size := int((await self.reader.readuntil(b"\r\n")).strip(), 16):
                parts.append(await self.reader.readexactly(size + 2))
            await self.reader.readuntil(b"\r\n")
            payload = b"".join(part[:-2] for part in parts)
        else:
            payload = await self.reader.readexactly(int(fields.get("content-length", 0)))
        if fields.get("connection", "").lower() == "close":
            self.writer.close()
            self.writer = None
        return status, json.loads(payload) if payload else None

    def close(self):
        if self.writer is not None:
            self.writer.close()
            self.writer = None


async def connect_many(host, port, tokens, handlers_for, concurrency=50, timeout=60.0,
                       queries=None, socket_class=None, auth=None):
    """Connect one Socket (or `socket_class`) per token, `concurrency` handshakes at a
    time (`queries[i]` added to handshake i's URL, `auth` to every CONNECT's auth).
    Returns `(sockets, failures)`; `sockets[i]` is None where token i failed."""
    sockets, failures = [None] * len(tokens), Counter()
    gate = asyncio.Semaphore(concurrency)

    async def one(i):
        async with gate:
            try:
                sockets[i] = await (socket_class or Socket)(handlers_for(i)).connect(
                    host, port, tokens[i], timeout, queries[i] if queries else "", auth)
            except (OSError, ConnectionError, TimeoutError, asyncio.IncompleteReadError) as e:
                failures[type(e).__name__ + ": " + str(e)[:80]] += 1

    await asyncio.gather(*(one(i) for i in range(len(tokens))))
    return sockets, failures


def totals(sockets):
    """Frames and bytes received per event over these sockets."""
    frames, size = defaultdict(int), defaultdict(int)
    for sock in filter(None, sockets):
        for event, count in sock.frames.items():
            frames[event] += count
            size[event] += sock.bytes[event]
    return {"frames": dict(frames), "bytes": dict(size)}


def percentiles(values, points=(50, 95, 99)):
    """Nearest-rank percentiles (ms in, ms out) plus count and max; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    result = {f"p{p}": round(ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))], 2)
              for p in points}
    return {**result, "max": round(ordered[-1], 2), "n": len(ordered)}


# Worker processes ------------------------------------------------------------------

class Worker:
    """Base of a scenario's load-client process: each `async def` method is a command."""

    def __init__(self, spec):
        self.spec = spec

    async def ping(self):
        return True


def _cpu_seconds():
    times = os.times()
    return round(times.user + times.system, 3)


def _child_main(target, spec, conn):
    module, _, name = target.partition(":")
    worker = getattr(importlib.import_module(module), name)(spec)
    asyncio.run(_serve(worker, conn))


async def _serve(worker, conn):
    loop = asyncio.get_running_loop()
    while True:
        message = await loop.run_in_executor(None, conn.recv)
        if message is None:
            return
        command, kwargs = message
        try:
            result = await getattr(worker, command)(**kwargs)
            conn.send(("ok", result, _cpu_seconds()))
        except Exception:  # reported to the scenario, which fails loudly
            conn.send(("error", traceback.format_exc(), _cpu_seconds()))


class Fleet:
    """`count` worker processes of `target` ("module:Class"), each given its own spec."""

    def __init__(self, target, specs):
        context = multiprocessing.get_context("spawn")
        self.pipes, self.procs = [], []
        for spec in specs:
            parent, child = context.Pipe()
            proc = context.Process(target=_child_main, args=(target, spec, child), daemon=True)
            proc.start()
            self.pipes.append(parent)
            self.procs.append(proc)
        self.cpu = [0.0] * len(specs)
        self.call("ping", timeout=120)  # started and imported: not part of any measurement

    def call(self, command, per_worker=None, timeout=300.0, **kwargs):
        """Run `command` in every worker at once (kwargs, plus per_worker[i] for worker
        i); return the results in worker order."""
        for i, pipe in enumerate(self.pipes):
            pipe.send((command, {**kwargs, **(per_worker[i] if per_worker else {})}))
        results, deadline = [], time.monotonic() + timeout
        for i, pipe in enumerate(self.pipes):
            if not pipe.poll(max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"load worker {i}: {command} took over {timeout:.0f} s")
            status, result, cpu = pipe.recv()
            self.cpu[i] = cpu
            if status == "error":
                raise RuntimeError(f"load worker {i} failed in {command}:\n{result}")
            results.append(result)
        return results

    def close(self):
        for pipe in self.pipes:
            try:
                pipe.send(None)
            except OSError:
                pass
        for proc in self.procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
                proc.join()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

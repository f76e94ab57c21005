"""Forwarding one client request to a service, for `make run`'s gateway
(devserver/gateway.py): the request as h11 parsed it, the head sent to the service
(hop-by-hop headers dropped, forwarding headers added, `Connection: close`), the body
streamed as it arrives, the answer piped back as it comes, and websocket tunnels (only
after the service has answered `101 Switching Protocols`).
"""
import gevent
import h11
from gevent import socket

from devserver.routes import split_target

CLIENT_TIMEOUT = 60.0  # for a request's head and body (nginx: client_*_timeout)
CONNECT_TIMEOUT = 5.0
MAX_HEAD = 64 * 1024
CHUNK = 64 * 1024
HOP_BY_HOP = {b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer",
              b"transfer-encoding", b"upgrade", b"expect", b"x-forwarded-for",
              b"x-forwarded-proto", b"x-forwarded-host"}


class ClientClosed(OSError):
    """The client went away before its request was whole."""


class HeadTimeout(OSError):
    """The client did not send its request's head within the header timeout."""


class Incoming:
    """One client connection and the request h11 parsed from it."""

    def __init__(self, sock, address, conn, request):
        self.sock, self.address, self.conn, self.request = sock, address, conn, request
        self.headers = {name: value for name, value in request.headers}
        self.method = request.method.decode("ascii")
        self.raw_target = request.target.decode("utf-8", "surrogateescape")
        self.path, self.query = split_target(self.raw_target)
        self.origin = self.header(b"origin")

    def header(self, name):
        value = self.headers.get(name)
        return value.decode("latin-1") if value is not None else None

    def next_event(self):
        return next_event(self.conn, self.sock)

    @property
    def websocket(self):
        return (b"websocket" in self.headers.get(b"upgrade", b"").lower()
                and b"upgrade" in self.headers.get(b"connection", b"").lower())


def next_event(conn, sock):
    """The next h11 event of the client's request, reading from `sock` as needed."""
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event
        conn.receive_data(sock.recv(CHUNK))


def request_head(incoming, target, upstream_address, chunked, upgrade=False):
    """The request head for the service: the client's headers without hop-by-hop ones,
    plus the forwarding headers. X-Forwarded-For is the client's own address only,
    whatever the client wrote there (nginx's `$remote_addr` as the first hop), so that
    a service trusting one proxy hop gets the real client. `upgrade`: the websocket
    upgrade is passed on (a websocket route), else the client's is dropped."""
    lines = [f"{incoming.method} {target} HTTP/1.1".encode("utf-8", "surrogateescape")]
    drop = HOP_BY_HOP | {name.strip().lower() for name in
                         incoming.headers.get(b"connection", b"").split(b",")}
    if chunked:
        drop.add(b"content-length")
    for name, value in incoming.request.headers.raw_items():
        if name.lower() not in drop:
            lines.append(name + b": " + value)
    if b"host" not in incoming.headers:
        lines.append(b"Host: %s:%d" % (upstream_address[0].encode(), upstream_address[1]))
    lines.append(b"X-Forwarded-For: " + incoming.address[0].encode("latin-1"))
    lines.append(b"X-Forwarded-Proto: http")
    if b"host" in incoming.headers:
        lines.append(b"X-Forwarded-Host: " + incoming.headers[b"host"])
    if upgrade:
        lines += [b"Connection: Upgrade", b"Upgrade: websocket"]
    else:
        lines.append(b"Connection: close")
    if chunked:
        lines.append(b"Transfer-Encoding: chunked")
    return b"\r\n".join(lines) + b"\r\n\r\n"


def send_body(incoming, upstream, chunked, max_body):
    """Stream the request body to the service as it arrives; False (and stop) as soon
    as a chunked body goes over `max_body`. A service that stops reading has answered
    already (its own 413): the rest of the body is not sent."""
    total, reading = 0, True
    while True:
        event = incoming.next_event()
        if isinstance(event, h11.Data):
            total += len(event.data)
            if total > max_body:
                return False
            data = b"%x\r\n%s\r\n" % (len(event.data), event.data) if chunked else event.data
        elif isinstance(event, h11.EndOfMessage):
            data = b"0\r\n\r\n" if chunked else b""
        else:  # the client closed mid-body: nothing to answer
            raise ClientClosed("the client closed before the end of its request")
        try:
            if reading and data:
                upstream.sendall(data)
        except OSError:
            reading = False
        if isinstance(event, h11.EndOfMessage):
            return True


def tunnel(incoming, upstream):
    """A websocket the service accepted (101): what the client sent after its request,
    then both directions piped until either side closes."""
    early, _ = incoming.conn.trailing_data
    if early:
        upstream.sendall(early)
    pipes = [gevent.spawn(pipe, incoming.sock, upstream),
             gevent.spawn(pipe, upstream, incoming.sock)]
    gevent.joinall(pipes, count=1)
    gevent.killall(pipes)


def status_of(head):
    """The status code of a response head (0 when it has none)."""
    parts = head.split(b"\r\n", 1)[0].split()
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def content_length(head):
    """The Content-Length of a response head, or None."""
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return int(value.strip())
    return None


def read_response_head(upstream):
    """(head, bytes after it) of the service's answer; (None, b"") when it closed or
    sent no valid head."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = upstream.recv(CHUNK)
        if not chunk or len(data) > MAX_HEAD:
            return None, b""
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    if not head.startswith(b"HTTP/1."):
        return None, b""
    return head, rest


def closing(head):
    """The service's response head with `Connection: close` for the client (one request
    per connection)."""
    lines = [line for line in head.split(b"\r\n")
             if line.split(b":", 1)[0].strip().lower() not in {b"connection", b"keep-alive"}]
    return b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n"


def pipe(source, destination, limit=None):
    """Copy until `source` ends, or `limit` bytes have gone (or either side fails)."""
    try:
        while limit is None or limit > 0:
            data = source.recv(CHUNK if limit is None else min(CHUNK, limit))
            if not data:
                break
            destination.sendall(data)
            limit = None if limit is None else limit - len(data)
    except OSError:
        pass


def socket_to(address):
    sock = socket.create_connection(address, timeout=CONNECT_TIMEOUT)
    sock.settimeout(None)
    no_delay(sock)
    return sock


def no_delay(sock):
    """Pieces are sent as they arrive: no Nagle delay on small websocket frames."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass

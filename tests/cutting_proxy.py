"""A TCP proxy in front of a served process whose connections a test can cut at any
moment, as a dropped network does: both sides see their connection end in the middle
of whatever they were doing, with no WebSocket close frame and no Engine.IO close
packet."""
import socket
import threading


class CuttingProxy:
    def __init__(self, target_port):
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.open = []
        self.cuts, self.refusing = 0, False
        self.reading = threading.Event()  # cleared: nothing more is read from the server
        self.reading.set()
        self.frozen = set()  # connections that carry nothing more and stay open
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                if self.refusing:
                    raise ConnectionRefusedError
                upstream = socket.socket()
                # A small window: a stalled reader fills the server's buffers quickly.
                upstream.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
                upstream.connect(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self.lock:
                self.open += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink, source is upstream),
                                 daemon=True).start()

    def _pipe(self, source, sink, from_server):
        try:
            while not from_server or self.reading.wait():
                data = source.recv(65536)
                if not data:
                    break
                if source in self.frozen:  # a silent network: dropped, never closed
                    continue
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        """Reset every connection open now."""
        with self.lock:
            connections, self.open = self.open, []
            self.cuts += 1
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
                connection.close()
            except OSError:
                pass

    def freeze(self):
        """Every connection open now stops carrying anything, both ways, and stays
        open: neither side can tell (until its ping timeout)."""
        with self.lock:
            self.frozen.update(self.open)
            self.open = []

    def close(self):
        self.listener.close()
        self.cut()

"""Helpers of the gateway tests: echo services that say who answered and what they got,
a built-frontend folder, raw HTTP requests (paths no client library would send), and
both gateways (`make run`'s and deploy/nginx.conf on Debian's nginx) in front of any
pair of ports."""
import json
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from devserver.processes import Gateway
from tests.gateway_support import ROOT, Nginx
from tests.harness import free_port

APP_ORIGIN = "http://app.example"
OTHER_ORIGIN = "http://evil.example"
SECRET = "secret next to the frontend"
FILES = {
    "index.html": "<!doctype html><title>the app</title>",
    "assets/app.js": "console.log('app');",
    "assets/style.css": "body { color: red }",
    "logo.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>",
}
# Files a build folder may hold that no gateway may serve (and one that it may).
HIDDEN_FILES = {".env": "JWT_SECRET_KEY=from-the-dotfile", ".git/config": "[core] secret",
                "assets/.env": "API_KEY=from-the-dotfile"}
WELL_KNOWN = {".well-known/security.txt": "Contact: mailto:security@example.com"}


class EchoHandler(BaseHTTPRequestHandler):
    """Answers any request with JSON: which service it plays, the target and headers it
    got and the body's length. `/rides/stream` sends two chunks two seconds apart."""

    protocol_version = "HTTP/1.1"

    def handle_any(self):
        body = self.read_body()
        if self.path.startswith("/rides/stream"):
            return self.stream()
        payload = json.dumps({"upstream": self.server.name, "target": self.path,
                              "method": self.command, "headers": dict(self.headers),
                              "body_length": len(body)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", ""):
            data = b""
            while size := int(self.rfile.readline().strip(), 16):
                data += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
            return data
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def stream(self):
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for part in (b"first", b"second"):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.flush()
            time.sleep(2)
        self.wfile.write(b"0\r\n\r\n")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = handle_any

    def log_message(self, *args):
        pass


class EchoService:
    def __init__(self, name):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), EchoHandler)
        self.server.daemon_threads = True
        self.server.name = name
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def make_frontend(directory):
    """A built frontend's folder, with hidden files in it and a secret file beside it."""
    dist = Path(directory) / "dist"
    for name, text in {**FILES, **HIDDEN_FILES, **WELL_KNOWN}.items():
        (dist / name).parent.mkdir(parents=True, exist_ok=True)
        (dist / name).write_text(text)
    (Path(directory) / "secret.txt").write_text(SECRET)
    return dist


def cors_map(directory, origins):
    """deploy/nginx-cors.sh's map for `origins`, written beside a rendered nginx.conf."""
    subprocess.run(["sh", str(ROOT / "deploy" / "nginx-cors.sh")], check=True,
                   env={"CORS_ORIGINS": origins,
                        "RIDEWIRE_CORS_MAP": str(Path(directory) / "ridewire-cors.map")})


class FrontNginx(Nginx):
    """deploy/nginx.conf in front of `auth_port` and `realtime_port`, with the frontend
    folder `dist` (or none) and the CORS origins `origins`."""

    def __init__(self, directory, auth_port, realtime_port, dist=None, origins=APP_ORIGIN,
                 port=None):
        super().__init__(directory, [auth_port], [realtime_port], port)
        conf = Path(directory) / "nginx.conf"
        text = conf.read_text()
        assert "root /srv/frontend;" in text
        conf.write_text(text.replace("root /srv/frontend;",
                                     f"root {dist or Path(directory) / 'none'};"))
        cors_map(directory, origins)


def dev_gateway(directory, auth_port, realtime_port, dist=None, origins=APP_ORIGIN,
                port=None):
    """`make run`'s gateway in front of `auth_port` and `realtime_port` (not started)."""
    env = {"AUTH_PORT": str(auth_port), "REALTIME_PORT": str(realtime_port),
           "HOST": "127.0.0.1", "CORS_ORIGINS": origins, "FRONTEND_DIR": str(dist or "")}
    return Gateway(port or free_port(), env, log_path=Path(directory) / "gateway.log")


def raw_request(port, target, method="GET", headers=(), body=b""):
    """Send a request exactly as written; (status, headers dict, body) of the answer."""
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close",
             *headers]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, content = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    found = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        found.setdefault(name.strip().lower(), value.strip())
    return int(status_line.split()[1]), found, content


def exchange(port, data, quiet=3.0):
    """Send `data` as written; everything answered until the gateway closes, or until
    nothing more comes for `quiet` seconds."""
    with socket.create_connection(("127.0.0.1", port), timeout=quiet) as sock:
        sock.sendall(data.encode())
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except TimeoutError:
            pass
    return received

"""What the tests and the benchmarks start beside `make run`'s children
(devserver/processes.py): free ports, a throwaway Redis and a service under gunicorn
with its production config."""
import shutil
import socket
import sys
from pathlib import Path

from devserver.processes import Child, Service

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
_handed_out = set()


def free_port():
    """A free port never handed out before: callers take several before any is bound."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


class GunicornService(Service):
    """`gunicorn -c deploy/gunicorn_<name>.py` (or `-c config`), ready when /healthz
    answers (`make run` starts its services as `python -m <service>`, which runs the
    same)."""

    def __init__(self, module, port, env, log_path=None, config=None):
        super().__init__(module, port, env, log_path)
        config = config or DEPLOY / f"gunicorn_{module.removesuffix('_service')}.py"
        self.argv = [sys.executable, "-m", "gunicorn", "-c", str(config)]


class RedisServer(Child):
    """A throwaway redis-server on 127.0.0.1 (no persistence), for tests and benchmarks."""

    def __init__(self, directory, port=None):
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        argv = [shutil.which("redis-server") or "/usr/bin/redis-server",
                "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(directory)]
        super().__init__("redis", argv, log_path=Path(directory) / "redis.log")

    def ready(self):
        import redis

        client = redis.Redis.from_url(self.url)
        try:
            return client.ping()
        except redis.ConnectionError:
            return False
        finally:
            client.close()

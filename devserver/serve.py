"""A service under gunicorn with its production config, for tests and benchmarks (`make
run` and `make serve` start theirs as `python -m <service>`, which runs the same)."""
import sys
from pathlib import Path

from devserver.processes import Service

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


class GunicornService(Service):
    """`gunicorn -c deploy/gunicorn_<name>.py`, ready when /healthz answers."""

    def __init__(self, module, port, env, log_path=None):
        super().__init__(module, port, env, log_path)
        config = DEPLOY / f"gunicorn_{module.removesuffix('_service')}.py"
        self.argv = [sys.executable, "-m", "gunicorn", "-c", str(config)]

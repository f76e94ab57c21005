"""`make serve`: like `make run`, but each service under gunicorn with its production
config (deploy/gunicorn_*.py), against the embedded database unless MONGO_URI is set."""
import sys
from pathlib import Path

from devserver.__main__ import main
from devserver.processes import Service

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


class GunicornService(Service):
    """`gunicorn -c deploy/gunicorn_<name>.py`, ready when /healthz answers."""

    def __init__(self, module, port, env, log_path=None):
        super().__init__(module, port, env, log_path)
        config = DEPLOY / f"gunicorn_{module.removesuffix('_service')}.py"
        self.argv = [sys.executable, "-m", "gunicorn", "-c", str(config)]


if __name__ == "__main__":
    sys.exit(main(GunicornService))

"""Container health check: exit 0 when this container's service answers /healthz.

SERVICE (auth | realtime) picks the port (AUTH_PORT / REALTIME_PORT). Liveness only:
a database outage makes /readyz fail, not this, so it never restarts a container
that would come back by itself."""
import os
import sys
import urllib.request

service = os.environ.get("SERVICE", "auth")
port = os.environ.get("AUTH_PORT" if service == "auth" else "REALTIME_PORT") or (
    "5001" if service == "auth" else "5002")
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as response:
        sys.exit(0 if response.status == 200 else 1)
except OSError:
    sys.exit(1)

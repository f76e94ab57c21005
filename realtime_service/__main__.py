"""Development server: `python -m realtime_service` (gevent, websockets via simple-websocket)."""
from gevent import monkey

monkey.patch_all()

from realtime_service.app import create_app, socketio  # noqa: E402
from shared.config import Config  # noqa: E402

if __name__ == "__main__":
    app = create_app(Config)
    print(f"realtime_service listening on http://{Config.HOST}:{Config.REALTIME_PORT}", flush=True)
    socketio.run(app, host=Config.HOST, port=Config.REALTIME_PORT, log_output=False)

"""Both services as served processes answer health, readiness and the Socket.IO
handshake."""
import requests


def test_served_processes_answer_health_and_socketio(served_auth, served_realtime):
    for service in (served_auth, served_realtime):
        assert requests.get(service.url + "/healthz", timeout=5).json() == {"status": "ok"}
        assert requests.get(service.url + "/readyz", timeout=5).status_code == 200
    handshake = requests.get(served_realtime.url + "/socket.io/?EIO=4&transport=polling", timeout=5)
    assert handshake.status_code == 200 and '"sid"' in handshake.text

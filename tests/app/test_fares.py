"""Distance, duration and fares: the formula, the minimums, the config table, and the
GET /rides/fare route's validation."""
import http.server
import json
import socket
import threading

import pytest

from realtime_service.rides.fares import estimate, estimate_for, fare, great_circle_km, road_km
from shared.config import DEFAULT_FARES

from ..factories import auth_header, make_captain, make_user

# Two points 0.1 degree of latitude apart: 11.12 km along a meridian.
A = {"lat": 12.9, "lng": 77.6}
B = {"lat": 13.0, "lng": 77.6}


def test_great_circle_distance():
    assert great_circle_km(A, B) == pytest.approx(11.12, abs=0.01)
    assert great_circle_km(A, A) == 0
    # London to Paris, a well-known 343.5 km.
    london, paris = {"lat": 51.5074, "lng": -0.1278}, {"lat": 48.8566, "lng": 2.3522}
    assert great_circle_km(london, paris) == pytest.approx(343.5, abs=0.5)
    # Antipodes do not crash the asin.
    assert great_circle_km({"lat": 0, "lng": 0}, {"lat": 0, "lng": 180}) == pytest.approx(
        20015.1, abs=1)


def test_road_factor_and_duration_from_speed():
    km = road_km(A, B, 1.3)
    assert km == pytest.approx(11.12 * 1.3, abs=0.02)
    trip = estimate_for(A, B, "car", DEFAULT_FARES, 1.3)
    assert trip["distanceKm"] == pytest.approx(14.46, abs=0.01)
    assert trip["durationMin"] == pytest.approx(km / 30 * 60, abs=0.05)  # car: 30 km/h


def test_fare_formula_and_minimum():
    car = DEFAULT_FARES["car"]
    # 50 + 15 * 10 + 3 * 20 = 260
    assert fare(10, 20, car) == 260
    assert fare(0, 0, car) == 80  # the minimum
    assert fare(0.1, 0.1, DEFAULT_FARES["motorcycle"]) == 40
    # Rounded half up to a whole unit: 20 + 8 * 1 + 1.5 * 15 = 50.5 -> 51
    assert fare(1, 15, DEFAULT_FARES["motorcycle"]) == 51


def test_estimate_every_type():
    result = estimate(A, B, DEFAULT_FARES, 1.3)
    assert set(result["fares"]) == {"auto", "car", "motorcycle"}
    for kind, rates in DEFAULT_FARES.items():
        minutes = result["durations"][kind]
        assert minutes == pytest.approx(result["distanceKm"] / rates["speedKmh"] * 60, abs=0.1)
        assert result["fares"][kind] == pytest.approx(
            rates["base"] + rates["perKm"] * result["distanceKm"] + rates["perMin"] * minutes,
            abs=1)
    assert result["durationMin"] == max(result["durations"].values())


def fare_url(plat=12.9, plng=77.6, dlat=13.0, dlng=77.6):
    return (f"/rides/fare?pickupLat={plat}&pickupLng={plng}"
            f"&destinationLat={dlat}&destinationLng={dlng}")


def test_fare_route(realtime_client, db):
    user = make_user(db)
    response = realtime_client.get(fare_url(), headers=auth_header(user))
    assert response.status_code == 200
    body = response.get_json()
    assert body["distanceKm"] == pytest.approx(14.46, abs=0.01)
    assert body["fares"]["car"] == fare(body["distanceKm"], body["durations"]["car"],
                                        DEFAULT_FARES["car"])
    # Same point: every type pays its minimum.
    same = realtime_client.get(fare_url(12.9, 77.6, 12.9, 77.6), headers=auth_header(user))
    assert same.get_json()["fares"] == {"auto": 50, "car": 80, "motorcycle": 40}


def test_fare_route_validates_every_coordinate(realtime_client, db):
    user = make_user(db)
    response = realtime_client.get(fare_url(91, -181, "abc", 180.5), headers=auth_header(user))
    assert response.status_code == 400
    params = {error["param"] for error in response.get_json()["errors"]}
    assert params == {"pickupLat", "pickupLng", "destinationLat", "destinationLng"}
    assert all(error["location"] == "query" for error in response.get_json()["errors"])
    missing = realtime_client.get("/rides/fare?pickupLat=1", headers=auth_header(user))
    assert missing.status_code == 400
    assert len(missing.get_json()["errors"]) == 3
    nan = realtime_client.get(fare_url("nan", 1, 1, "inf"), headers=auth_header(user))
    assert nan.status_code == 400


def test_fare_route_auth(realtime_client, db):
    assert realtime_client.get(fare_url()).status_code == 401
    captain = make_captain(db)
    assert realtime_client.get(fare_url(), headers=auth_header(captain, "captain")
                               ).status_code == 403


def test_fare_table_is_configurable(mongo_uri, db):
    from realtime_service.app import create_app

    from ..conftest import make_config

    table = {"car": {"base": 1, "perKm": 0, "perMin": 0, "minimum": 7, "speedKmh": 60}}
    app = create_app(make_config(mongo_uri, FARES=table, ROAD_FACTOR=1.0))
    user = make_user(db)
    body = app.test_client().get(fare_url(), headers=auth_header(user)).get_json()
    assert body["fares"] == {"car": 7}
    assert body["distanceKm"] == pytest.approx(11.12, abs=0.01)
    assert body["durationMin"] == pytest.approx(11.1, abs=0.1)


class OsrmHandler(http.server.BaseHTTPRequestHandler):
    """A tiny OSRM-shaped routing service: 12.5 km, 30 min; records the paths asked."""

    paths = []

    def do_GET(self):
        type(self).paths.append(self.path)
        body = json.dumps({"code": "Ok", "routes": [{"distance": 12500.0, "duration": 1800.0}]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def routing_url():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), OsrmHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_routing_service_when_configured(routing_url):
    result = estimate(A, B, DEFAULT_FARES, 1.3, routing_url)
    assert result["distanceKm"] == 12.5
    assert result["durations"] == {"auto": 30.0, "car": 30.0, "motorcycle": 30.0}
    assert result["fares"]["car"] == 328  # 50 + 15 * 12.5 + 3 * 30 = 327.5, rounded half up
    # routingpy writes each coordinate in its shortest form (13.0 -> 13).
    assert OsrmHandler.paths[-1] == "/route/v1/driving/77.6,12.9;77.6,13?overview=false"
    assert estimate_for(A, B, "auto", DEFAULT_FARES, 1.3, routing_url)["durationMin"] == 30.0


def test_routing_service_down_falls_back_to_great_circle():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    result = estimate(A, B, DEFAULT_FARES, 1.3, closed)
    assert result == estimate(A, B, DEFAULT_FARES, 1.3)

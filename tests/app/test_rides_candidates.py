"""Who a round offers a ride to, in process: stale captains skipped, captains on a ride
or holding another offer skipped (captain states), and the ranking by road travel time
from a router answered by a local stub of OSRM's table service (one matrix call per
round, cached), with the great-circle fallback when it fails."""
import http.server
import json
import logging
import threading
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from bson import ObjectId

from realtime_service.rides import ranking
from shared.serialize import now

from ..factories import auth_header, make_captain, make_user, token_for
from ..rides_support import PICKUP, north_of, ride_body
from ..sockets import flush


@pytest.fixture
def setup(make_realtime_app, app_sockets):
    """`setup(**settings)`: (http client, connect(account, role="user"))."""

    def build(**settings):
        app = make_realtime_app(**settings)
        return app.test_client(), lambda account, role="user": app_sockets(
            app, token_for(account, role))

    return build


def post(http, path, account, role="user", json=None):
    return http.post(path, json=json, headers=auth_header(account, role))


def request(http, db):
    response = post(http, "/rides", make_user(db), json=ride_body())
    assert response.status_code == 201
    return db.rides.find_one({"_id": ObjectId(response.get_json()["ride"]["_id"])})


def test_a_captain_silent_too_long_is_not_offered_rides(setup, db):
    http, connect = setup(LOCATION_STALE_SECONDS=60)
    silent = make_captain(db, location=north_of(PICKUP, 0.1),
                          locationUpdatedAt=now() - timedelta(seconds=61))
    fresh = make_captain(db, location=north_of(PICKUP, 0.8))
    silent_socket, _ = connect(silent, "captain"), connect(fresh, "captain")
    assert request(http, db)["dispatched"] == [fresh["_id"]]
    flush(silent_socket)
    assert "new-ride" not in silent_socket.events
    # Reporting a position makes it a candidate again.
    lat, lng = north_of(PICKUP, 0.1)
    assert silent_socket.call("update-location-captain",
                              {"location": {"lat": lat, "lng": lng}}) == {"ok": True}
    assert request(http, db)["dispatched"] == [silent["_id"]]  # the other holds an offer


def test_captains_on_a_ride_or_holding_an_offer_are_not_offered(setup, db):
    http, connect = setup(DISPATCH_BATCH=1)
    busy, offered, free = (make_captain(db, location=north_of(PICKUP, km))
                           for km in (0.1, 0.2, 0.3))
    for captain in (busy, offered, free):
        connect(captain, "captain")
    first = request(http, db)
    assert first["dispatched"] == [busy["_id"]]
    assert post(http, f"/rides/{first['_id']}/accept", busy, "captain").status_code == 200
    assert request(http, db)["dispatched"] == [offered["_id"]]  # busy is en route
    assert request(http, db)["dispatched"] == [free["_id"]]  # offered holds an offer
    waiting = request(http, db)  # nobody available is left: the search waits
    assert waiting["status"] == "pending" and waiting["dispatched"] == []


# A stub of OSRM: /table/v1 answers the durations of TRAVEL (seconds from a source
# point to the pickup), /route/v1 a fixed route (the fare).

class OsrmStub(http.server.BaseHTTPRequestHandler):
    tables = []
    travel = {}  # (lng, lat) as sent, rounded -> seconds
    fail = False

    def do_GET(self):
        url = urlsplit(self.path)
        if type(self).fail:
            return self.answer(500, {"code": "Error"})
        if url.path.startswith("/table/v1/driving/"):
            type(self).tables.append(self.path)
            points = [tuple(round(float(x), 3) for x in pair.split(","))
                      for pair in url.path.rsplit("/", 1)[1].split(";")]
            return self.answer(200, {"code": "Ok", "durations": [
                [type(self).travel.get(point)] for point in points[1:]]})
        if url.path.startswith("/route/v1/driving/"):
            return self.answer(200, {"code": "Ok", "routes": [
                {"distance": 9000.0, "duration": 900.0}]})
        return self.answer(404, {})

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def osrm():
    OsrmStub.tables, OsrmStub.travel, OsrmStub.fail = [], {}, False
    ranking.forget()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), OsrmStub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    ranking.forget()


def by_road(db, seconds_by_km):
    """Captains north of the pickup at each km, with their travel time in the stub."""
    captains = []
    for km, seconds in seconds_by_km:
        lat, lng = north_of(PICKUP, km)
        OsrmStub.travel[(round(lng, 3), round(lat, 3))] = seconds
        captains.append(make_captain(db, location=(lat, lng)))
    return captains


def test_candidates_are_ranked_by_the_routers_durations(setup, db, osrm):
    http, connect = setup(ROUTER="osrm", ROUTER_URL=osrm, DISPATCH_BATCH=2, DISPATCH_MAX=4)
    # Nearest by straight line first; by road the farthest is the quickest.
    captains = by_road(db, [(0.2, 600.0), (0.5, 300.0), (1.0, 120.0), (1.5, 900.0)])
    sockets = [connect(captain, "captain") for captain in captains]
    ride = request(http, db)
    assert ride["dispatched"] == [captains[2]["_id"], captains[1]["_id"]]
    assert len(OsrmStub.tables) == 1
    query = parse_qs(urlsplit(OsrmStub.tables[0]).query)
    assert query["sources"] == ["1;2;3;4"] and query["destinations"] == ["0"]
    assert query["annotations"] == ["duration"]
    # The next round ranks the rest from the cache: no second matrix call.
    for captain in (captains[2], captains[1]):
        assert post(http, f"/rides/{ride['_id']}/decline", captain, "captain").status_code == 200
    sockets[0].wait_for("new-ride")
    moved = db.rides.find_one({"_id": ride["_id"]})
    assert moved["dispatch"]["captains"] == [captains[0]["_id"], captains[3]["_id"]]
    assert len(OsrmStub.tables) == 1


def test_a_router_error_falls_back_to_great_circle_and_is_logged(setup, db, osrm, caplog):
    http, connect = setup(ROUTER="osrm", ROUTER_URL=osrm, DISPATCH_BATCH=2, DISPATCH_MAX=4)
    captains = by_road(db, [(1.0, 60.0), (0.2, 600.0), (0.5, 300.0)])
    for captain in captains:
        connect(captain, "captain")
    OsrmStub.fail = True
    with caplog.at_level(logging.WARNING, logger="realtime_service.rides.ranking"):
        ride = request(http, db)
    assert ride["dispatched"] == [captains[1]["_id"], captains[2]["_id"]]
    assert any("router failed" in record.getMessage() for record in caplog.records)


def test_a_point_the_router_cannot_reach_ranks_by_great_circle(setup, db, osrm):
    http, connect = setup(ROUTER="osrm", ROUTER_URL=osrm, DISPATCH_BATCH=3, DISPATCH_MAX=3)
    # No duration for the nearest: its great-circle time (about 30 s) is still quickest.
    captains = by_road(db, [(0.2, None), (0.5, 3000.0), (1.0, 2000.0)])
    for captain in captains:
        connect(captain, "captain")
    assert request(http, db)["dispatched"] == [c["_id"] for c in
                                               (captains[0], captains[2], captains[1])]

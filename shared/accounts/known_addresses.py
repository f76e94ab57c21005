"""Client addresses that logged in to an account: one document per (role, email,
address), removed by a TTL index once the address has not logged in for a while."""
from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from shared.extensions import mongo

COLLECTION = "known_addresses"
INDEXES = [
    IndexModel([("role", ASCENDING), ("email", ASCENDING), ("ip", ASCENDING)], unique=True),
    IndexModel([("expiresAt", ASCENDING)], expireAfterSeconds=0),
]


def remember(role, email, ip, expires_at):
    """Record (or extend) one known address."""
    try:
        mongo.db[COLLECTION].update_one({"role": str(role), "email": email, "ip": ip},
                                        {"$set": {"expiresAt": expires_at}}, upsert=True)
    except DuplicateKeyError:  # a concurrent login of the same address inserted it
        pass


def is_known(role, email, ip, now):
    return mongo.db[COLLECTION].find_one(
        {"role": str(role), "email": email, "ip": ip, "expiresAt": {"$gt": now}},
        {"_id": 1}) is not None

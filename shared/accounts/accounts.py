"""Accounts: users (riders) in `users`, captains (drivers) in `captains`.

Stored fields beyond the public ones of the API (docs/api.md): `password` (bcrypt hash),
`tokenVersion` (int; bumping it revokes every earlier access token),
`tokensRevokedAt` (when it was last bumped; the realtime service polls it).
A compatibility layer may store more fields of its own (see compat/).
What leaves the service is decided by the response schemas (an allow-list).
"""
from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ASCENDING, IndexModel

from shared import storage
from shared.accounts.roles import Role
from shared.extensions import mongo
from shared.serialize import now
from shared.storage import find_one_and_update

COLLECTIONS = {role: role.collection for role in Role}
# Keeps the "versions bumped since" read of the revocation feed cheap.
REVOKED_AT = IndexModel([("tokensRevokedAt", ASCENDING)], name="tokensRevokedAt_1")
INDEXES = {
    "users": [IndexModel([("email", ASCENDING)], unique=True, name="email_unique"), REVOKED_AT],
    "captains": [
        IndexModel([("email", ASCENDING)], unique=True, name="email_unique"),
        IndexModel([("vehicle.plate", ASCENDING)], unique=True, name="plate_unique"),
        # No geo index: dispatch asks the live captain index, and one made every
        # position write cost five times as much (BENCHMARKS.md, scenario 10).
        REVOKED_AT,
    ],
}


def collection(role):
    return mongo.db[COLLECTIONS[role]]


def find_by_id(role, account_id):
    try:
        oid = ObjectId(account_id)
    except (InvalidId, TypeError):
        return None
    return collection(role).find_one({"_id": oid})


def find_by_email(role, email):
    return collection(role).find_one({"email": email.strip().lower()})


def create(role, fields, password_hash):
    """Insert a new account. The unique indexes decide whether its email (or a
    captain's plate) is taken: DuplicateKeyError, exactly one winner under races."""
    timestamp = now()
    account = {
        "_id": ObjectId(),
        "fullname": fields["fullname"],
        "email": fields["email"].strip().lower(),
        "password": password_hash,
        "bio": fields.get("bio", ""),
        "profilePic": None,
        "socketId": None,
        "tokenVersion": 0,
        "tokensRevokedAt": None,
        "createdAt": timestamp,
        "updatedAt": timestamp,
    }
    if role == Role.CAPTAIN:
        account.update(vehicle=fields["vehicle"], status="inactive", location=None)
    collection(role).insert_one(account)
    return account


def duplicate_field(error):
    """Which unique field a DuplicateKeyError of `create` is about: plate or email."""
    details = error.details or {}
    which = " ".join([str(details.get("keyPattern", "")), str(details.get("errmsg", "")),
                      str(error)])
    return "plate" if "plate" in which else "email"


def update(role, account_id, changes, unset=()):
    """Apply `$set` changes (dotted keys allowed) and return the updated account."""
    update_doc = {"$set": {**changes, "updatedAt": now()}}
    if unset:
        update_doc["$unset"] = {key: "" for key in unset}
    return find_one_and_update(collection(role), {"_id": account_id}, update_doc)


def update_where(role, query, changes, unset=()):
    """Apply `$set` changes to the account matching `query`, if any (no result)."""
    update_doc = {"$set": {**changes, "updatedAt": now()}}
    if unset:
        update_doc["$unset"] = {key: "" for key in unset}
    storage.update_one(collection(role), query, update_doc)


def revoke_tokens(role, account_id, changes=None):
    """Bump `tokenVersion` (every access token issued so far stops working) and stamp
    `tokensRevokedAt`; optionally apply more `$set` changes in the same write."""
    timestamp = now()
    return find_one_and_update(
        collection(role), {"_id": account_id},
        {"$inc": {"tokenVersion": 1},
         "$set": {**(changes or {}), "tokensRevokedAt": timestamp, "updatedAt": timestamp}})


def token_versions_since(since):
    """{account id (str): tokenVersion} of the accounts (either role) that revoked
    their tokens after `since`."""
    versions = {}
    for name in COLLECTIONS.values():
        for doc in mongo.db[name].find({"tokensRevokedAt": {"$gt": since}}, {"tokenVersion": 1}):
            versions[str(doc["_id"])] = doc.get("tokenVersion", 0)
    return versions


def role_of(account_id):
    """The role of the account with this id, or None when there is none."""
    for role in Role:
        if collection(role).find_one({"_id": account_id}, {"_id": 1}):
            return role
    return None


def public_profiles(role, account_ids, fields):
    """{id: account} with only `fields`, for the accounts of `role` with these ids."""
    if not account_ids:
        return {}
    found = collection(role).find({"_id": {"$in": list(account_ids)}}, dict.fromkeys(fields, 1))
    return {account["_id"]: account for account in found}


def riders(query, fields):
    """The riders matching `query`, with only `fields`, oldest account first."""
    return list(collection(Role.USER).find(query, dict.fromkeys(fields, 1)).sort("_id", 1))


def set_location(captain_id, location):
    """Store a captain's position ({"lat", "lng"}) as a GeoJSON Point [lng, lat]."""
    point = {"type": "Point", "coordinates": [location["lng"], location["lat"]]}
    storage.update_one(collection(Role.CAPTAIN), {"_id": captain_id},
                       {"$set": {"location": point, "locationUpdatedAt": now()}})


def set_locations(positions):
    """Store many captains' positions in one bulk write: `positions` maps a captain's
    id to `(lat, lng, reported at)` (a datetime)."""
    storage.update_each(collection(Role.CAPTAIN), [
        ({"_id": captain_id}, {"$set": {
            "location": {"type": "Point", "coordinates": [lng, lat]},
            "locationUpdatedAt": at}})
        for captain_id, (lat, lng, at) in positions.items()])


def on_duty_among(captain_ids, vehicle_type):
    """The ids among `captain_ids` of the active captains of `vehicle_type` (a set)."""
    found = collection(Role.CAPTAIN).find(
        {"_id": {"$in": list(captain_ids)}, "status": "active",
         "vehicle.vehicleType": vehicle_type}, {"_id": 1})
    return {account["_id"] for account in found}


def set_socket_id(role, account_id, value, only_if=None):
    """The account's last socket id (`value`), unless it is no longer `only_if`."""
    query = {"_id": account_id} if only_if is None else {"_id": account_id, "socketId": only_if}
    storage.update_one(collection(role), query, {"$set": {"socketId": value}})


def any_exists():
    """Whether the database holds any account."""
    return any(collection(role).find_one({}, {"_id": 1}) for role in Role)


"""Rides: a rider's trip from request to completion or cancellation.

Stored fields beyond the public ones of the API (docs/api.md): `otp` (6 digits, shown only to the
rider), `otpFailures` (wrong start attempts), `dispatched` (ids of the captains
that were sent `new-ride`, nearest first), `updatedAt`. What leaves the service is
decided by the response schema (an allow-list).

Every transition is one conditional update on the current status
(`shared.storage.find_one_and_update`), so concurrent requests cannot both win. Two
partial unique indexes back the "one open ride" rules even under races: a rider has
at most one pending, accepted or ongoing ride, a captain at most one accepted or
ongoing ride; a write that would break one raises DuplicateKeyError.
Dispatch relies on the 2dsphere index on `captains.location` (shared/accounts/accounts.py).
"""
import secrets

from pymongo import DESCENDING, IndexModel

from shared import storage
from shared.accounts.roles import Role
from shared.extensions import mongo
from shared.serialize import now
from shared.storage import cursor_page

COLLECTION = "rides"
OPEN = ["pending", "accepted", "ongoing"]
BUSY = ["accepted", "ongoing"]  # a captain's open rides
TIMESTAMPS = {"accepted": "acceptedAt", "ongoing": "startedAt", "completed": "completedAt",
              "cancelled": "cancelledAt"}
MAX_OTP_FAILURES = 5
PROFILE_FIELDS = ("_id", "fullname", "profilePic", "bio", "vehicle")

OPEN_RIDE_OF_CAPTAIN = "one_open_ride_per_captain"
INDEXES = [
    IndexModel([("user", 1), ("_id", DESCENDING)], name="user_history"),
    IndexModel([("captain", 1), ("_id", DESCENDING)], name="captain_history"),
    IndexModel([("user", 1)], name="one_open_ride_per_user", unique=True,
               partialFilterExpression={"status": {"$in": OPEN}}),
    IndexModel([("captain", 1)], name=OPEN_RIDE_OF_CAPTAIN, unique=True,
               partialFilterExpression={"status": {"$in": BUSY}}),
]


def collection():
    return mongo.db[COLLECTION]


def new_otp():
    return f"{secrets.randbelow(10**6):06d}"


def create(user_id, pickup, destination, vehicle_type, estimate, dispatched, client=None):
    """Insert a pending ride; DuplicateKeyError when the rider already has an open one.
    `client` names the frontend that requested the ride when its payloads differ."""
    stamp = now()
    ride = {
        "user": user_id,
        "captain": None,
        "pickup": pickup,
        "destination": destination,
        "vehicleType": vehicle_type,
        "fare": estimate["fare"],
        "distanceKm": estimate["distanceKm"],
        "durationMin": estimate["durationMin"],
        "status": "pending",
        "otp": new_otp(),
        "otpFailures": 0,
        "dispatched": dispatched,
        "createdAt": stamp,
        "updatedAt": stamp,
    }
    if client:
        ride["client"] = client
    ride["_id"] = collection().insert_one(ride).inserted_id
    return ride


def find(ride_id):
    return collection().find_one({"_id": ride_id})


def party_filter(account_id, role):
    """The query of the rides of which `account_id` is the rider (or the captain)."""
    return {"user": account_id} if role == Role.USER else {"captain": account_id}


def find_for_party(ride_id, account_id, role):
    """The ride if `account_id` is its rider or captain (as `role`), else None."""
    return collection().find_one({"_id": ride_id, **party_filter(account_id, role)})


def open_ride_of_captain(captain_id):
    """The captain's accepted or ongoing ride, or None. Hinted to the partial index of
    open rides, which this query is the reason for: without the hint SecantusDB walks
    the captain's whole history, and this runs on every location update."""
    return collection().find_one({"captain": captain_id, "status": {"$in": BUSY}},
                                 hint=OPEN_RIDE_OF_CAPTAIN)


def transition(query, status, **fields):
    """Move the ride matching `query` to `status` (stamping the transition) and return
    it, or None when nothing matched. DuplicateKeyError when it would give a captain a
    second open ride."""
    stamp = now()
    update = {"$set": {"status": status, TIMESTAMPS[status]: stamp, "updatedAt": stamp,
                       **fields}}
    return storage.find_one_and_update(collection(), query, update)


def accept(ride_id, captain_id):
    """The atomic accept: only a pending ride that was dispatched to this captain; None
    when there is no such ride (any more)."""
    return transition({"_id": ride_id, "status": "pending", "dispatched": captain_id},
                      "accepted", captain=captain_id)


def record_otp_failure(ride_id):
    """Count one wrong OTP; False when the ride was already locked (or left 'accepted')."""
    result = storage.update_one(
        collection(),
        {"_id": ride_id, "status": "accepted", "otpFailures": {"$lt": MAX_OTP_FAILURES}},
        {"$inc": {"otpFailures": 1}, "$set": {"updatedAt": now()}},
    )
    return result.modified_count == 1


def exists_between(rider_id, captain_id):
    """Whether the rider and the captain ever shared a ride."""
    query = {"user": rider_id, "captain": captain_id}
    return collection().find_one(query, {"_id": 1}) is not None


def page(query, limit, before=None):
    """`(rides newest first, next)`: a page of the rides matching `query`."""
    return cursor_page(collection(), query, limit, before)

"""Rides: a rider's trip from request to completion or cancellation.

Stored fields beyond the public ones of API.md: `otp` (6 digits, shown only to the
rider), `otpFailures` (wrong start attempts), `dispatched` (ids of the captains
that were sent `new-ride`, nearest first). `present()` is the only way a ride
leaves the service.

Every transition is one conditional update on the current status
(`shared.db.find_one_and_update`), so concurrent requests cannot both win. Two
partial unique indexes back the "one open ride" rules even under races: a rider has
at most one pending, accepted or ongoing ride, a captain at most one accepted or
ongoing ride.
Dispatch relies on the 2dsphere index on `captains.location` (shared/models/accounts.py).
"""
import secrets

from pymongo import DESCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from shared.db import REVISION, find_one_and_update, mongo
from shared.errors import ApiError
from shared.models import accounts
from shared.serialize import now, to_json

COLLECTION = "rides"
OPEN = ["pending", "accepted", "ongoing"]
BUSY = ["accepted", "ongoing"]  # a captain's open rides
TIMESTAMPS = {"accepted": "acceptedAt", "ongoing": "startedAt", "completed": "completedAt",
              "cancelled": "cancelledAt"}
MAX_OTP_FAILURES = 5
PRIVATE_FIELDS = frozenset({"otp", "otpFailures", "dispatched", REVISION})
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


def rides():
    return mongo.db[COLLECTION]


def new_otp():
    return f"{secrets.randbelow(10**6):06d}"


def create(user_id, pickup, destination, vehicle_type, estimate, dispatched):
    """Insert a pending ride; 409 when the rider already has an open one."""
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
        "requestedAt": stamp,
        "updatedAt": stamp,
    }
    try:
        ride["_id"] = rides().insert_one(ride).inserted_id
    except DuplicateKeyError:
        raise ApiError(409, "You already have an open ride") from None
    return ride


def find(ride_id):
    return rides().find_one({"_id": ride_id})


def party_filter(account_id, role):
    return {"user": account_id} if role == "user" else {"captain": account_id}


def find_for_party(ride_id, account_id, role):
    """The ride if `account_id` is its rider or captain; 404 otherwise (a ride that is not
    yours does not exist for you)."""
    ride = rides().find_one({"_id": ride_id, **party_filter(account_id, role)})
    if ride is None:
        raise ApiError(404, "Ride not found")
    return ride


def open_ride_of_captain(captain_id):
    """The captain's accepted or ongoing ride, or None. Hinted to the partial index of
    open rides: otherwise SecantusDB walks the captain's whole history (3.1 ms instead
    of 0.6 ms at 90 past rides each; BENCHMARKS.md, "Query costs"), and this runs on
    every location update."""
    return rides().find_one({"captain": captain_id, "status": {"$in": BUSY}},
                            hint=OPEN_RIDE_OF_CAPTAIN)


def transition(query, status, **fields):
    """Move the ride matching `query` to `status` (stamping the transition) and return
    it, or None when nothing matched. A unique-index clash becomes a 409."""
    stamp = now()
    update = {"$set": {"status": status, TIMESTAMPS[status]: stamp, "updatedAt": stamp,
                       **fields}}
    try:
        return find_one_and_update(rides(), query, update)
    except DuplicateKeyError:
        raise ApiError(409, "You already have an open ride") from None


def accept(ride_id, captain_id):
    """The atomic accept: only a pending ride that was dispatched to this captain."""
    ride = transition({"_id": ride_id, "status": "pending", "dispatched": captain_id},
                      "accepted", captain=captain_id)
    if ride is None:
        existing = find(ride_id)
        if existing is None or captain_id not in existing.get("dispatched", []):
            raise ApiError(404, "Ride not found")
        raise ApiError(409, "Ride is no longer available")
    return ride


def require_status(ride, allowed, action):
    if ride["status"] not in allowed:
        raise ApiError(409, f"Cannot {action} a ride that is {ride['status']}")


def record_otp_failure(ride_id):
    """Count one wrong OTP; False when the ride was already locked (or left 'accepted')."""
    result = rides().update_one(
        {"_id": ride_id, "status": "accepted", "otpFailures": {"$lt": MAX_OTP_FAILURES}},
        {"$inc": {"otpFailures": 1, REVISION: 1}, "$set": {"updatedAt": now()}},
    )
    return result.modified_count == 1


def history(account_id, role, limit, before=None, status=None):
    """The account's rides, newest first, and the cursor of the next page (or None)."""
    query = party_filter(account_id, role)
    if before is not None:
        query["_id"] = {"$lt": before}
    if status:
        query["status"] = status
    page = list(rides().find(query).sort("_id", DESCENDING).limit(limit + 1))
    next_cursor = str(page[limit - 1]["_id"]) if len(page) > limit else None
    return page[:limit], next_cursor


def profile(account):
    """What the other party sees of an account: no email, no location, no token state."""
    return to_json({field: account[field] for field in PROFILE_FIELDS if field in account})


def present_many(ride_list, viewer_id):
    """Rides as the API shows them to `viewer_id`, with `user` and `captain` expanded to
    public profiles. The OTP is kept only for the ride's own rider."""
    user_ids = {ride["user"] for ride in ride_list}
    captain_ids = {ride["captain"] for ride in ride_list if ride.get("captain")}
    users = {doc["_id"]: doc for doc in accounts.collection("user").find(
        {"_id": {"$in": list(user_ids)}})}
    captains = {doc["_id"]: doc for doc in accounts.collection("captain").find(
        {"_id": {"$in": list(captain_ids)}})} if captain_ids else {}
    shown = []
    for ride in ride_list:
        hidden = PRIVATE_FIELDS if ride["user"] != viewer_id else PRIVATE_FIELDS - {"otp"}
        data = to_json(ride, hidden=hidden)
        user, captain = users.get(ride["user"]), captains.get(ride.get("captain"))
        data["user"] = profile(user) if user else str(ride["user"])
        if ride.get("captain"):
            data["captain"] = profile(captain) if captain else str(ride["captain"])
        shown.append(data)
    return shown


def present(ride, viewer_id):
    return present_many([ride], viewer_id)[0]

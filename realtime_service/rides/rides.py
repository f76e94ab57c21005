"""Rides: a rider's trip from request to completion or cancellation.

Stored fields beyond the public ones of the API (docs/api.md): `otp` (6 digits, shown only to the
rider), `otpFailures` (wrong start attempts), `dispatched` (ids of every captain that
was sent `new-ride`, in offer order: a captain is offered a ride once), `dispatch` (the
offer round in flight, see `new_dispatch`), `updatedAt`. What leaves the service is
decided by the response schema (an allow-list).

Every transition is one conditional update on the current status
(`shared.storage.find_one_and_update`), so concurrent requests cannot both win. Two
partial unique indexes back the "one open ride" rules even under races: a rider has
at most one pending, accepted or ongoing ride, a captain at most one accepted or
ongoing ride; a write that would break one raises DuplicateKeyError.
The offer round lives here too, so a round in flight survives a restart: every move of
the search (the next round, a wait, the expiry) is a guarded update on its `step`, a
decline one on the captain's live offer, so that of several processes exactly one
moves it.
Captains' live positions are in the live captain index (realtime_service.rides.captain_index),
which reads the open rides of every captain at start-up (`open_rides`).
"""
import secrets
from datetime import timedelta

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
              "cancelled": "cancelledAt", "expired": "expiredAt"}
MAX_OTP_FAILURES = 5
PROFILE_FIELDS = ("_id", "fullname", "profilePic", "bio", "vehicle")

OPEN_RIDE_OF_CAPTAIN = "one_open_ride_per_captain"
ROUNDS_DUE = "offer_rounds_due"
INDEXES = [
    IndexModel([("user", 1), ("_id", DESCENDING)], name="user_history"),
    IndexModel([("captain", 1), ("_id", DESCENDING)], name="captain_history"),
    IndexModel([("user", 1)], name="one_open_ride_per_user", unique=True,
               partialFilterExpression={"status": {"$in": OPEN}}),
    IndexModel([("captain", 1)], name=OPEN_RIDE_OF_CAPTAIN, unique=True,
               partialFilterExpression={"status": {"$in": BUSY}}),
    # The sweeper's "rounds due" and the "who holds a live offer" queries: the rounds
    # not expired yet are few. (Not an index of `dispatch.captains`: SecantusDB walks
    # a hinted multikey index by reading every document of the collection.)
    IndexModel([("dispatch.expiresAt", 1)], name=ROUNDS_DUE,
               partialFilterExpression={"status": "pending"}),
]


def collection():
    return mongo.db[COLLECTION]


def new_otp():
    return f"{secrets.randbelow(10**6):06d}"


def new_dispatch(stamp, radius_km, search_seconds):
    """The offer state of a new ride: round 0 (no captain offered yet), due at once;
    `radiusKm` the search radius, `endsAt` when the search gives up. A round holds the
    ids of its `captains` and when their offers expire (`expiresAt`, never after
    `endsAt`); a wait (no captain left to offer) holds none and keeps the number of the
    last round. `declined` ({id string: when}) keeps the declines of every round;
    `step` counts the moves (rounds and waits), which are guarded on it."""
    return {"round": 0, "step": 0, "captains": [], "declined": {}, "expiresAt": stamp,
            "radiusKm": radius_km, "endsAt": stamp + timedelta(seconds=search_seconds)}


def create(user_id, pickup, destination, vehicle_type, estimate, dispatch, client=None):
    """Insert a pending ride with its offer state (`new_dispatch`); DuplicateKeyError when
    the rider already has an open one. `client` names the frontend that requested the
    ride when its payloads differ."""
    stamp = dispatch["expiresAt"]
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
        "dispatched": [],
        "dispatch": dispatch,
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
    the captain's whole history (accept asks it)."""
    return collection().find_one({"captain": captain_id, "status": {"$in": BUSY}},
                                 hint=OPEN_RIDE_OF_CAPTAIN)


def open_rides():
    """`(captain, user, _id)` of every accepted or ongoing ride (the live index's
    mapping, read at start-up), through the partial index of open rides."""
    found = collection().find({"status": {"$in": BUSY}}, {"captain": 1, "user": 1},
                              hint=OPEN_RIDE_OF_CAPTAIN)
    return [(ride["captain"], ride["user"], ride["_id"]) for ride in found]


def transition(query, status, **fields):
    """Move the ride matching `query` to `status` (stamping the transition) and return
    it, or None when nothing matched. DuplicateKeyError when it would give a captain a
    second open ride."""
    stamp = now()
    update = {"$set": {"status": status, TIMESTAMPS[status]: stamp, "updatedAt": stamp,
                       **fields}}
    return storage.find_one_and_update(collection(), query, update)


def live_offer(captain_id, stamp):
    """The query of a pending ride whose round in flight offers it to the captain, who
    has not declined it, at `stamp`."""
    return {"status": "pending", "dispatch.captains": captain_id,
            f"dispatch.declined.{captain_id}": {"$exists": False},
            "dispatch.expiresAt": {"$gt": stamp}}


def accept(ride_id, captain_id):
    """The atomic accept: only a pending ride of which the captain holds a live offer;
    None when there is no such ride (any more)."""
    return transition({"_id": ride_id, **live_offer(captain_id, now())}, "accepted",
                      captain=captain_id)


def decline(ride_id, captain_id):
    """Record the captain's decline of their live offer; the ride after it, or None when
    they hold no live offer of it."""
    stamp = now()
    return storage.find_one_and_update(
        collection(), {"_id": ride_id, **live_offer(captain_id, stamp)},
        {"$set": {f"dispatch.declined.{captain_id}": stamp, "updatedAt": stamp}})


def received(ride_id, round_number, captain_id):
    """Record that the captain's client has its live offer of this round; whether it
    holds one."""
    stamp = now()
    result = collection().update_one(
        {"_id": ride_id, "dispatch.round": round_number, **live_offer(captain_id, stamp)},
        {"$set": {f"dispatch.received.{captain_id}": stamp}})
    return result.matched_count == 1


def in_step(ride):
    """The query of the ride while pending and still at the step it was read in (a ride
    stored before steps were counted has none: null matches a missing field)."""
    return {"_id": ride["_id"], "status": "pending",
            "dispatch.step": ride["dispatch"].get("step")}


def next_round(ride, captains, radius_km, expires_at):
    """Move the ride from the step it was read in to the next: a new round offered to
    `captains`, or, with none, a wait in the same round; both until `expires_at`. The
    ride after it, or None when another process moved it first or it left `pending`."""
    dispatch = ride["dispatch"]
    moved = {**dispatch, "round": dispatch["round"] + bool(captains),
             "step": (dispatch.get("step") or 0) + 1, "captains": captains,
             "expiresAt": expires_at, "radiusKm": radius_km}
    return storage.find_one_and_update(
        collection(), in_step(ride),
        {"$set": {"dispatch": moved, "dispatched": ride["dispatched"] + captains,
                  "updatedAt": now()}})


def expire(ride):
    """End the search of the ride, at the step it was read in: `expired`; None when
    another process moved it first or it left `pending`."""
    return transition(in_step(ride), "expired")


def rounds_due(stamp, limit):
    """Pending rides whose round or wait is over at `stamp` (or that have none yet)."""
    query = {"status": "pending", "dispatch.expiresAt": {"$lte": stamp}}
    return list(collection().find(query, hint=ROUNDS_DUE).limit(limit))


def busy_among(captain_ids):
    """The ids of `captain_ids` with an accepted or ongoing ride."""
    query = {"captain": {"$in": list(captain_ids)}, "status": {"$in": BUSY}}
    found = collection().find(query, {"captain": 1}, hint=OPEN_RIDE_OF_CAPTAIN)
    return {ride["captain"] for ride in found}


def offered_among(captain_ids, stamp):
    """The ids of `captain_ids` holding a live offer of some ride at `stamp`."""
    ids = list(captain_ids)
    query = {"status": "pending", "dispatch.captains": {"$in": ids},
             "dispatch.expiresAt": {"$gt": stamp}}
    held = set()
    for ride in collection().find(query, {"dispatch": 1}, hint=ROUNDS_DUE):
        declined = ride["dispatch"].get("declined", {})
        held |= {c for c in ride["dispatch"]["captains"] if str(c) not in declined}
    return held & set(ids)


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

"""Scenario 7: what each hot-path query costs on the embedded database, on empty
collections and after they grew (rides, messages, activities), one client, back to
back. It shows which queries get slower as data piles up: the ones a long run
(`make soak`) would end up waiting on.

The open ride of a captain is measured with and without the hint the service gives,
and the conditional ride transition both ways: with the driver's
findAndModify, which SecantusDB answers with a scan of the whole collection, and with
`shared.db.find_one_and_update` (a read and a guarded update_one), which the services
use.
"""
import random
import time

from bson import ObjectId
from pymongo import ReturnDocument

from auth_service.app import MODELS as AUTH_MODELS
from bench import common
from realtime_service.app import MODELS as REALTIME_MODELS
from realtime_service.rides.rides import OPEN_RIDE_OF_CAPTAIN
from shared.db import indexes_of
from shared.serialize import now
from shared.storage import find_one_and_update

SIZES = {
    # (rides, messages and activities each) after each growth step
    "full": {"steps": [(0, 0), (3000, 20000), (9000, 60000)], "repeat": 100},
    "tiny": {"steps": [(0, 0), (50, 200)], "repeat": 3},
}
USERS, CAPTAINS = 900, 100
BUSY = ["accepted", "ongoing"]


def _seed(db):
    for collection, indexes in indexes_of(AUTH_MODELS + REALTIME_MODELS).items():
        if indexes:
            db[collection].create_indexes(indexes)
    users = [{"_id": ObjectId(), "email": f"u{n}@bench.example", "tokenVersion": 0,
              "tokensRevokedAt": None} for n in range(USERS)]
    captains = [{"_id": ObjectId(), "email": f"c{n}@bench.example", "status": "active",
                 "vehicle": {"plate": f"P{n}", "vehicleType": "car"}, "tokensRevokedAt": None,
                 "location": {"type": "Point", "coordinates": [77.59, 12.97 + n * 0.06]}}
                for n in range(CAPTAINS)]
    db.users.insert_many(users)
    db.captains.insert_many(captains)
    return [u["_id"] for u in users], [c["_id"] for c in captains]


def _grow(db, users, captains, rides, documents, rng):
    """Add completed rides, and messages and activities, in batches."""
    stamp = now()
    batches = {
        "rides": lambda: {"user": rng.choice(users), "captain": rng.choice(captains),
                          "status": "completed", "dispatched": [], "otp": "000000",
                          "otpFailures": 0, "createdAt": stamp, "updatedAt": stamp},
        "messages": lambda: {"senderId": rng.choice(users), "receiverId": rng.choice(users),
                             "text": "bench", "seen": False, "createdAt": stamp},
        "activities": lambda: {"account": rng.choice(users), "role": "user",
                               "action": "bench", "meta": {}, "createdAt": stamp},
    }
    for name, make in batches.items():
        count = rides if name == "rides" else documents
        for start in range(0, count, 1000):
            db[name].insert_many([make() for _ in range(min(1000, count - start))])


def _queries(db, users, captains, step):
    """{name: zero-argument callable}, each one query of a hot path (`step` picks a
    rider and a captain without an open ride yet)."""
    user, captain = users[step], captains[step]
    ride_id = db.rides.insert_one({"user": user, "captain": captain, "status": "accepted",
                                   "otpFailures": 0, "updatedAt": now()}).inserted_id
    ride = {"_id": ride_id, "status": "accepted"}
    touch = {"$set": {"updatedAt": now()}}
    return {
        "authenticate ($lookup)": lambda: next(db.users.aggregate([
            {"$match": {"_id": user}}, {"$limit": 1},
            {"$lookup": {"from": "blacklisted_tokens", "as": "revokedBy",
                         "pipeline": [{"$match": {"jti": "x"}}, {"$project": {"_id": 1}}]}}])),
        "message insert": lambda: db.messages.insert_one(
            {"senderId": user, "receiverId": users[8], "text": "x", "seen": False}),
        "activity insert": lambda: db.activities.insert_one(
            {"account": user, "role": "user", "action": "x", "meta": {}}),
        "open ride of a captain": lambda: db.rides.find_one(
            {"captain": captain, "status": {"$in": BUSY}}),
        "open ride of a captain, hinted": lambda: db.rides.find_one(
            {"captain": captain, "status": {"$in": BUSY}}, hint=OPEN_RIDE_OF_CAPTAIN),
        "captain location update": lambda: db.captains.update_one(
            {"_id": captain}, {"$set": {"location": {"type": "Point",
                                                     "coordinates": [77.59, 13.2]}}}),
        "ride transition, findAndModify": lambda: db.rides.find_one_and_update(
            ride, touch, return_document=ReturnDocument.AFTER),
        "ride transition, guarded update": lambda: find_one_and_update(db.rides, ride, touch),
        "revocation poll": lambda: list(db.users.find({"tokensRevokedAt": {"$gt": now()}})),
    }


def _time(call, repeat):
    started = time.perf_counter()
    for _ in range(repeat):
        call()
    return round(1000 * (time.perf_counter() - started) / repeat, 2)


def run(size="full", out_dir=None):
    cfg = SIZES[size]
    rng = random.Random(7)
    steps = []
    with common.Stack("query_costs") as stack:
        users, captains = _seed(stack.db)
        grown = (0, 0)
        for step, (rides, documents) in enumerate(cfg["steps"]):
            _grow(stack.db, users, captains, rides - grown[0], documents - grown[1], rng)
            grown = (rides, documents)
            queries = _queries(stack.db, users, captains, step)
            costs = {name: _time(call, cfg["repeat"]) for name, call in queries.items()}
            steps.append({"rides": stack.db.rides.count_documents({}),
                          "messages": stack.db.messages.count_documents({}),
                          "ms_per_query": costs})
            print(f"  {steps[-1]['rides']} rides, {steps[-1]['messages']} messages: "
                  + ", ".join(f"{name} {ms} ms" for name, ms in costs.items()), flush=True)
    return common.write_result("query_costs", {"config": cfg, "steps": steps}, out_dir)

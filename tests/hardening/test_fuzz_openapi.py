"""Schemathesis against each served service's /openapi.json: every documented route,
authenticated, with valid and invalid data. No 5xx, and every response matches its
documented status codes, content type and schema.

Each operation (and mode: valid, then invalid data) gets a fresh rider, captain, peer,
ride and message in an emptied database, and a fresh token per case, so a fuzzed
logout or logout-all cannot lock the rest of the run out. Path ids that are well-formed are
pointed at real objects of the caller half of the time, so the success paths run
too, not only the 404s. FUZZ_EXAMPLES=100 runs a deeper search than `make test`'s.
"""
import os
import re
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks

from ..factories import make_captain, make_user, token_for
from ..rides_support import DESTINATION, PICKUP, north_of

MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 6))  # per operation and mode
OBJECT_ID = re.compile(r"^[0-9a-fA-F]{24}$")
CAPTAIN_PATHS = re.compile(r"^/captains/|^/rides/\{ride_id\}/(accept|start|end)$")
FUZZ_SETTINGS = settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                         suppress_health_check=list(HealthCheck), derandomize=True)
# Checks that need a cooperative server-side state machine (schemathesis' stateful
# links) are out of scope here; everything about a single response is checked.
CHECKS_OFF = ("use_after_free", "ensure_resource_availability", "positive_data_acceptance")
EXCLUDED = [getattr(checks, name) for name in CHECKS_OFF if hasattr(checks, name)]
SKIPPED = re.compile(r"^/docs|^/socket\.io")
# QuickChat's routes answer invalid data with 200 `{success: false, message}`, the only
# failure that frontend shows; their answers are still checked.
QUICKCHAT = re.compile(r"^/api/(auth|messages)/")


class World:
    """The accounts and objects one fuzzed operation plays with."""

    def __init__(self, db):
        self.db = db
        self.user = make_user(db)
        self.peer = make_user(db)
        self.captain = make_captain(db, location=north_of(PICKUP, 0.5))
        ride = {"user": self.user["_id"], "captain": self.captain["_id"], "status": "accepted",
                "pickup": PICKUP, "destination": DESTINATION, "vehicleType": "car",
                "fare": 100, "distanceKm": 7.0, "durationMin": 15.0, "otp": "123456",
                "otpFailures": 0, "dispatched": [self.captain["_id"]]}
        self.ride_id = db.rides.insert_one(ride).inserted_id
        self.message_id = db.messages.insert_one(
            {"senderId": self.peer["_id"], "receiverId": self.user["_id"], "text": "hi",
             "image": None, "seen": False}).inserted_id
        self.counter = self.cases = 0

    def token(self, path):
        role = "captain" if CAPTAIN_PATHS.search(path) else "user"
        account = self.captain if role == "captain" else self.user
        fresh = self.db[f"{role}s"].find_one({"_id": account["_id"]})  # tokenVersion may move
        return token_for(fresh, role)

    def real_ids(self):
        return {"other_id": self.peer["_id"], "ride_id": self.ride_id,
                "message_id": self.message_id}

    def prepare(self, case):
        """Point well-formed path ids at real objects (every other case); return the
        headers to send: the credentials are passed explicitly, so schemathesis'
        `ignored_auth` check also replays the case without them and with bad ones."""
        self.counter += 1
        if self.counter % 2 and case.path_parameters:
            for name, value in list(case.path_parameters.items()):
                if name in self.real_ids() and OBJECT_ID.match(str(value)):
                    case.path_parameters[name] = str(self.real_ids()[name])
        return {"Authorization": f"Bearer {self.token(case.path)}"}


def run_operation(operation, mode, world, failures):
    excluded = EXCLUDED + ([checks.negative_data_rejection]
                           if QUICKCHAT.search(operation.path) else [])

    @given(case=operation.as_strategy(generation_mode=mode))
    @FUZZ_SETTINGS
    def check(case):
        headers = world.prepare(case)
        case.call_and_validate(headers=headers, excluded_checks=excluded, timeout=10)
        world.cases += 1

    started = time.monotonic()
    try:
        check()
    except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
        pass
    except Exception as error:  # every failing operation is reported, not only the first
        failures.append(f"{operation.label} [{mode.value}]: {error!r}"[:3000])
    print(f"{operation.label} [{mode.value}]: {world.cases} cases, "
          f"{time.monotonic() - started:.1f}s")


def fuzz_service(schema, db):
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if SKIPPED.search(operation.path):
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run_operation(operation, mode, World(db), failures)
            empty(db)
    assert not failures, "\n\n".join(failures)


def empty(db):
    for name in db.list_collection_names():
        if not name.startswith("system."):
            db[name].delete_many({})


@pytest.mark.timeout(600)
def test_auth_service(served_auth, db):
    fuzz_service(schemathesis.openapi.from_url(f"{served_auth.url}/openapi.json"), db)


@pytest.mark.timeout(600)
def test_realtime_service(served_realtime, db):
    fuzz_service(schemathesis.openapi.from_url(f"{served_realtime.url}/openapi.json"), db)

"""Test data written straight to the database, and tokens signed like the auth service's.

Use these where a test is about something else than registration (chat, rides,
sockets); the auth tests go through the HTTP API instead."""
import itertools

import bcrypt
from flask import Flask

from shared.accounts.tokens import init_tokens, issue_access_token
from shared.config import TestingConfig
from shared.serialize import now

PASSWORD = "secret123"
# How long a blacklist entry written behind a process's back (by "another process")
# may take to be seen: REVOCATION_POLL_SECONDS and a margin.
REVOKED_ELSEWHERE_SECONDS = 0.8
_HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
_counter = itertools.count(1)
_token_app = Flask("test-tokens")
_token_app.config.from_object(TestingConfig)
init_tokens(_token_app)


def make_user(db, firstname=None, **fields):
    n = next(_counter)
    doc = {
        "fullname": {"firstname": firstname or f"User{n:03d}", "lastname": "Tester"},
        "email": f"user{n}@example.com",
        "password": _HASH,
        "bio": "",
        "profilePic": None,
        "socketId": None,
        "tokenVersion": 0,
        "createdAt": now(),
        **fields,
    }
    doc["_id"] = db.users.insert_one(doc).inserted_id
    return doc


def make_captain(db, firstname=None, vehicle_type="car", status="active", location=None,
                 **fields):
    """A captain; `location` is (lat, lng) or None (reported just now: the live index
    takes it when the captain connects)."""
    n = next(_counter)
    doc = {
        "fullname": {"firstname": firstname or f"Captain{n:03d}", "lastname": "Driver"},
        "email": f"captain{n}@example.com",
        "password": _HASH,
        "bio": "",
        "profilePic": None,
        "socketId": None,
        "tokenVersion": 0,
        "vehicle": {"color": "black", "plate": f"KA01-{n:04d}", "capacity": 4,
                    "vehicleType": vehicle_type},
        "status": status,
        "location": None if location is None else {
            "type": "Point", "coordinates": [location[1], location[0]]},
        "locationUpdatedAt": None if location is None else now(),
        "createdAt": now(),
        **fields,
    }
    doc["_id"] = db.captains.insert_one(doc).inserted_id
    return doc


def token_for(account, role="user"):
    """An access token for `account`, signed with the test secret."""
    with _token_app.app_context():
        return issue_access_token(account, role)[0]


def auth_header(account, role="user"):
    return {"Authorization": f"Bearer {token_for(account, role)}"}

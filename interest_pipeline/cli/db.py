"""`interest-pipeline db ...`: the schema's migrations."""

import click
from sqlalchemy.engine import URL

from interest_pipeline.cli.errors import BadInput
from interest_pipeline.db import migrate
from interest_pipeline.db.admin import database_exists
from interest_pipeline.settings import DATABASE_URL_ENV, current_settings, database_url


def _target(revision: str | None = None) -> URL:
    """The application database, checked: settings valid, revision known, database there.

    A missing database is refused, never created (nor Dagster's beside it): which server and
    name to use is the operator's decision. Only the embedded server's database is made for them.
    """
    settings = current_settings()
    if revision is not None and not migrate.known_revision(revision):
        raise BadInput(
            f"unknown revision {revision!r} (known: head, base, or {migrate.head_revision()} and earlier)"
        )
    url = database_url(settings)
    if not database_exists(url):
        raise click.ClickException(
            f"database {url.database!r} does not exist on {url.host or 'the server'} ({DATABASE_URL_ENV}): "
            "create it first"
        )
    return url


@click.group()
def db() -> None:
    """Apply or inspect the schema migrations."""


@db.command()
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def upgrade(revision: str) -> None:
    """Migrate the database up to REVISION."""
    url = _target(revision)
    migrate.upgrade(url, revision)
    click.echo(f"database {url.database} at revision {migrate.current_revision(url)}")


@db.command()
@click.option("--revision", required=True, help="Target revision ('base' removes every table).")
@click.confirmation_option(prompt="This drops tables and their data. Continue?")
def downgrade(revision: str) -> None:
    """Migrate the database down to REVISION."""
    url = _target(revision)
    migrate.downgrade(url, revision)
    click.echo(f"database {url.database} at revision {migrate.current_revision(url)}")


@db.command()
def current() -> None:
    """Show the database's current revision and where it is."""
    url = _target()
    click.echo(f"{url.render_as_string(hide_password=True)}")
    click.echo(f"revision: {migrate.current_revision(url) or '(none: run `interest-pipeline db upgrade`)'}")

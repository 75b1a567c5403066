"""`interest-pipeline db ...`: the schema's migrations."""

import click

from interest_pipeline.db import migrate
from interest_pipeline.settings import database_url


@click.group()
def db() -> None:
    """Apply or inspect the schema migrations."""


@db.command()
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def upgrade(revision: str) -> None:
    """Migrate the database up to REVISION."""
    url = database_url()
    migrate.upgrade(url, revision)
    click.echo(f"database {url.database} at revision {migrate.current_revision(url)}")


@db.command()
@click.option("--revision", required=True, help="Target revision ('base' removes every table).")
@click.confirmation_option(prompt="This drops tables and their data. Continue?")
def downgrade(revision: str) -> None:
    """Migrate the database down to REVISION."""
    url = database_url()
    migrate.downgrade(url, revision)
    click.echo(f"database {url.database} at revision {migrate.current_revision(url)}")


@db.command()
def current() -> None:
    """Show the database's current revision and where it is."""
    url = database_url()
    click.echo(f"{url.render_as_string(hide_password=True)}")
    click.echo(f"revision: {migrate.current_revision(url) or '(none: run `interest-pipeline db upgrade`)'}")

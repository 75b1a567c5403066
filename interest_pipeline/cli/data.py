"""`generate` and `load`: synthetic data and validated CSV imports into the input tables."""

import click


@click.command()
def generate() -> None:
    """Generate a synthetic book of accounts (not built yet)."""
    raise click.ClickException("not implemented yet")


@click.command()
def load() -> None:
    """Load a CSV into an input table (not built yet)."""
    raise click.ClickException("not implemented yet")

"""`interest-pipeline summary`: what is in the book and what the pipeline did with it."""

from datetime import datetime

import click

from interest_pipeline.db.engine import raw_connection
from interest_pipeline.reports import summary as summary_tables


@click.command()
@click.option("--from", "start", type=click.DateTime(formats=["%Y-%m-%d"]), help="First business date.")
@click.option("--to", "end", type=click.DateTime(formats=["%Y-%m-%d"]), help="Last business date.")
def summary(start: datetime | None, end: datetime | None) -> None:
    """Print accounts, accruals, postings (gross/tax/net per currency), ledger and executions."""
    with raw_connection() as conn:
        tables = summary_tables(conn, start.date() if start else None, end.date() if end else None)
    click.echo("\n\n".join(table.render() for table in tables))

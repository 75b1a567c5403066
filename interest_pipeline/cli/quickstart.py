"""`interest-pipeline quickstart`: migrate, generate a small book, run the pipeline, show the result."""

from collections.abc import Callable
from datetime import date, datetime, timedelta

import click

from interest_pipeline.cli.jobs import RANGED_OPTION, _console_logger
from interest_pipeline.data.generate import generate_book
from interest_pipeline.db import migrate
from interest_pipeline.db.engine import raw_connection
from interest_pipeline.launch import LaunchedRun
from interest_pipeline.reports import summary as summary_tables
from interest_pipeline.settings import database_url


@click.command()
@click.option("--accounts", type=click.IntRange(min=1), default=2000, show_default=True)
@click.option(
    "--from",
    "start",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default="2025-12-01",
    show_default=True,
    help="First business date.",
)
@click.option(
    "--to",
    "end",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default="2026-01-31",
    show_default=True,
    help="Last business date (the default spans month, quarter, half-year and year ends).",
)
@click.option("--seed", type=int, default=42, show_default=True)
@RANGED_OPTION
def quickstart(accounts: int, start: datetime, end: datetime, seed: int, ranged: bool | None) -> None:
    """Start from a fresh synthetic book and run accrual then posting for every date, as Dagster runs.

    Replaces the book, every pipeline output and execution record, and the ledger (generate
    --replace --discard-ledger) in the configured database.
    """
    from interest_pipeline.pipeline import PipelineRunFailed, run_pipeline

    first, last = start.date(), end.date()
    if last < first:
        raise click.UsageError(f"--to {last} is before --from {first}")
    url = database_url()
    migrate.upgrade(url)
    click.echo(f"database: {url.render_as_string(hide_password=True)} (migrated)")
    with raw_connection(url) as conn:
        # A fresh book makes earlier outputs and executions meaningless, the demo's ledger too.
        book = generate_book(
            conn,
            accounts=accounts,
            start=first,
            days=(last - first).days + 1,
            seed=seed,
            replace=True,
            discard_ledger=True,
        )
    click.echo(f"generated {book.accounts:,} accounts, {book.balances:,} balance snapshots (seed {seed})")
    click.echo(f"running the pipeline {first} .. {last}: per date, accrual then posting")
    try:
        runs = run_pipeline(
            first,
            last,
            run_config=lambda _op: {"loggers": _console_logger()},
            on_finished=_progress(first, last),
            ranged=ranged,
        )
    except PipelineRunFailed as failed:
        raise click.ClickException(str(failed)) from failed
    dagster_runs = len({r.run_id for r in runs})
    if dagster_runs == len(runs):
        click.echo(f"{len(runs)} Dagster runs, all succeeded (see them with `interest-pipeline ui`)")
    else:
        click.echo(
            f"{len(runs)} date runs in {dagster_runs} ranged Dagster run(s), all succeeded "
            "(see them with `interest-pipeline ui`)"
        )
    with raw_connection(url) as conn:
        tables = summary_tables(conn, first, last)
    click.echo("\n" + "\n\n".join(table.render() for table in tables))


def _progress(first: date, last: date) -> Callable[[LaunchedRun, str], None]:
    """A line per run at month ends (and the last date), so the output stays a page long."""
    total = (last - first).days + 1

    def echo(run: LaunchedRun, job_name: str) -> None:
        day = date.fromisoformat(run.partition_key)
        if run.success and day != last and (day + timedelta(days=1)).day != 1:
            return
        click.echo(f"[{(day - first).days + 1:>3}/{total}] {day} {job_name:<22} {run.status}")

    return echo

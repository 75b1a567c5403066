"""`post` and `run`: real Dagster runs of the posting job (and, for `run`, the accrual before it)."""

from datetime import date, timedelta
from typing import Any

import click
import dagster as dg

from interest_pipeline.cli.jobs import JOB_TYPE as ACCRUAL_JOB_TYPE
from interest_pipeline.cli.jobs import (
    RANGED_OPTION,
    _dates,
    _plan_config,
    _summary_and_counts,
    checked,
    fail_on,
    progress_reporter,
    run_config_of,
)
from interest_pipeline.domain.enums import JobType
from interest_pipeline.launch import LaunchedRun, launch_partition_runs
from interest_pipeline.progress import track

JOB_TYPE = JobType.INTEREST_POSTING.value

DATE = click.DateTime(["%Y-%m-%d"])


def _run_config(op: str, account_ids: tuple[int, ...], batch_size: int | None) -> dict[str, Any]:
    return run_config_of(op, _plan_config(account_ids, None, batch_size))


@click.command()
@click.option("--date", "day", type=DATE, help="Business date P to post.")
@click.option("--from", "start", type=DATE, help="First business date of a range.")
@click.option("--to", "end", type=DATE, help="Last business date of a range.")
@click.option("--account-id", "account_ids", type=int, multiple=True, help="Only this account (repeatable).")
@click.option("--batch-size", type=int, default=None, help="Accounts per chunk (default: the job's config).")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Say what posting P would do (due, blocked with reasons, gross/tax/net, journals) by the "
    "posting's own SQL in a transaction that is rolled back: nothing is written, no key is taken.",
)
def post(
    day: Any, start: Any, end: Any, account_ids: tuple[int, ...], batch_size: int | None, dry_run: bool
) -> None:
    """Post (capitalize) the interest due on P, or on every date from --from to --to in order."""
    from interest_pipeline.posting.job import reconstructable_posting_job

    dates = _dates(day and day.date(), start and start.date(), end and end.date())
    if dry_run:
        if day is None:
            raise click.UsageError("--dry-run goes with --date P (a later date depends on the earlier ones)")
        _dry_run(dates[0], account_ids, batch_size)
        return
    checked(JOB_TYPE, dates, _plan_config(account_ids, None, batch_size))
    with track(len(dates), "post") as tracker:
        launched = launch_partition_runs(
            dg.reconstructable(reconstructable_posting_job),
            [d.isoformat() for d in dates],
            run_config=_run_config("plan_posting", account_ids, batch_size),
            on_finished=progress_reporter(tracker, "posted"),
        )
    fail_on(launched, len(dates), "run(s) not launched")


def _dry_run(day: date, account_ids: tuple[int, ...], batch_size: int | None) -> None:
    from interest_pipeline.batch.config import BatchConfigError, BatchRunConfig
    from interest_pipeline.db.engine import raw_connection
    from interest_pipeline.posting.dry_run import dry_run_posting, render_dry_run
    from interest_pipeline.resources.ledger import PostgresLedgerResource

    config = BatchRunConfig(account_ids=list(account_ids) or None, batch_size=batch_size)
    try:
        with raw_connection() as conn:
            prediction = dry_run_posting(conn, day, PostgresLedgerResource(), config)
    except BatchConfigError as error:
        raise click.ClickException(str(error)) from error
    click.echo(render_dry_run(prediction))


@click.command()
@click.option("--from", "start", type=DATE, required=True, help="First business date.")
@click.option("--to", "end", type=DATE, required=True, help="Last business date.")
@click.option("--batch-size", type=int, default=None, help="Accounts per chunk (default: the job's config).")
@RANGED_OPTION
def run(start: Any, end: Any, batch_size: int | None, ranged: bool | None) -> None:
    """Catch up: for each date in order, the accrual and then the posting.

    A small book's range runs as one ranged Dagster run (each date's accrual and posting still
    their own executions), a larger book's as a run per date and job (--ranged/--per-date
    choose). Stops with a non-zero exit at the first date that fails.
    """
    from interest_pipeline.pipeline import PipelineRunFailed, run_pipeline

    dates = _dates(None, start.date(), end.date())  # validates the range
    overrides: dict[str, Any] = {} if batch_size is None else {"batch_size": batch_size}
    checked(ACCRUAL_JOB_TYPE, dates, overrides)
    checked(JOB_TYPE, dates, overrides)
    verbs = {ACCRUAL_JOB_TYPE: "accrued", JOB_TYPE: "posted"}
    with track(len(dates), "run") as tracker:

        def finished(outcome: LaunchedRun, job: str) -> None:
            # a date is done when its posting run is
            line, accounts, chunks = _summary_and_counts(outcome, verbs[job])
            tracker.done(line, accounts=accounts, chunks=chunks, advance=int(job == JOB_TYPE))

        try:
            run_pipeline(
                start.date(),
                end.date(),
                run_config=lambda op: _run_config(op, (), batch_size),
                on_finished=finished,
                ranged=ranged,
            )
        except PipelineRunFailed as failed:
            raise click.ClickException(str(failed)) from failed


@click.command()
@click.option(
    "--next-run",
    type=DATE,
    default=None,
    help="Business date R of the posting run to ask about (default: the day after the latest posting run).",
)
@click.option("--account-id", "account_ids", type=int, multiple=True, help="Only this account (repeatable).")
def blocked(next_run: Any, account_ids: tuple[int, ...]) -> None:
    """List the postings owed from earlier due dates: blocked by incomplete accruals, or ready.

    Each line is one account and due date P whose posting was not made on P: the dates to
    re-accrue before it can be made, or "ready" when they are done, in which case the next
    posting run (of any date after P) makes it as P's posting. Writes nothing.
    """
    from interest_pipeline.db.engine import raw_connection
    from interest_pipeline.posting.sql import latest_posting_date, waiting_postings
    from interest_pipeline.reports import waiting_postings_table

    with raw_connection() as conn:
        if next_run is not None:
            run_date = next_run.date()
        else:
            latest = latest_posting_date(conn)
            if latest is None:
                click.echo("No posting run yet: nothing is waiting.")
                return
            run_date = latest + timedelta(days=1)
        waiting = waiting_postings(conn, run_date, list(account_ids) or None)
    click.echo(waiting_postings_table(waiting, run_date).render())
    ready = sum(1 for w in waiting if w.blocked_reason is None)
    click.echo(f"\n{len(waiting)} posting(s) waiting: {len(waiting) - ready} blocked, {ready} ready")


def register_posting_commands(group: click.Group) -> None:
    group.add_command(post)
    group.add_command(run)
    group.add_command(blocked)

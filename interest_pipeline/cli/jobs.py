"""`accrue` (and, from the posting job's module, `post` and `run`): launch the pipeline's Dagster jobs
on the configured instance."""

import logging
from collections.abc import Callable
from datetime import date
from typing import Any

import click
import dagster as dg

from interest_pipeline.batch.executions import read_execution
from interest_pipeline.cli.errors import refused
from interest_pipeline.db.engine import raw_connection
from interest_pipeline.domain.enums import JobType
from interest_pipeline.launch import (
    LaunchedRun,
    LaunchRefused,
    business_dates,
    check_launch,
    launch_partition_runs,
)
from interest_pipeline.progress import Tracker, track

JOB_TYPE = JobType.DAILY_INTEREST_ACCRUAL.value


def _dates(day: date | None, start: date | None, end: date | None) -> list[date]:
    if day is not None and (start is not None or end is not None):
        raise click.UsageError("give either --date or --from/--to, not both")
    if day is not None:
        return [day]
    if start is None or end is None:
        raise click.UsageError("give --date D, or --from D1 --to D2")
    if end < start:
        raise click.UsageError(f"--to {end} is before --from {start}")
    return list(business_dates(start, end))


def checked(job_type: str, dates: list[date], config: dict[str, Any]) -> None:
    """Refuse bad input before any run, row or database exists (launch.check_launch)."""
    try:
        check_launch(job_type, [d.isoformat() for d in dates], config)
    except LaunchRefused as error:
        raise refused(error) from error


def _summary(outcome: LaunchedRun, verb: str = "accrued") -> str:
    """One line per run: its status and the execution's counts and per-currency totals."""
    return _summary_and_counts(outcome, verb)[0]


def _summary_and_counts(outcome: LaunchedRun, verb: str = "accrued") -> tuple[str, int, int]:
    """The run's summary line, with its execution's accounts processed and chunks (for progress)."""
    with raw_connection() as conn:
        row = read_execution(conn, outcome.execution)
    # The execution id is the run id, or for a date of a ranged run the one derived from it.
    head = f"{outcome.partition_key} {row.job_type if row else 'run'} {outcome.execution} {outcome.status}"
    if row is None:
        return f"{head}: no execution recorded", 0, 0
    totals = ", ".join(f"{c} {a}" for c, a in sorted(row.totals_by_currency.items())) or "none"
    line = (
        f"{head}: execution {row.status}, {row.accounts_processed} accounts "
        f"({row.accounts_succeeded} {verb}, {row.accounts_skipped} skipped, {row.accounts_failed} failed), "
        f"totals {totals}"
    )
    return line, row.accounts_processed, row.total_chunks


def progress_reporter(tracker: Tracker, verb: str) -> Callable[[LaunchedRun], None]:
    """An on_finished callback: the run's summary line and the command's progress (dates done of dates)."""

    def report(outcome: LaunchedRun) -> None:
        line, accounts, chunks = _summary_and_counts(outcome, verb)
        tracker.done(line, accounts=accounts, chunks=chunks)

    return report


def _plan_config(
    account_ids: tuple[int, ...], include_dormant: bool | None, batch_size: int | None
) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if account_ids:
        config["account_ids"] = list(account_ids)
    if include_dormant is not None:
        config["include_dormant_accounts"] = include_dormant
    if batch_size is not None:
        config["batch_size"] = batch_size
    return config


def _console_logger() -> dict[str, Any]:
    """Dagster's console logger at the CLI's level (-v: INFO), so the summary lines stand out."""
    level = logging.getLevelName(logging.getLogger().getEffectiveLevel())
    return {"console": {"config": {"log_level": level}}}


def run_config_of(op: str, config: dict[str, Any]) -> dict[str, Any]:
    """A launched run's config: the console logger, and `config` for the plan op when it says anything."""
    run_config: dict[str, Any] = {"loggers": _console_logger()}
    if config:
        run_config["ops"] = {op: {"config": config}}
    return run_config


RANGED_OPTION = click.option(
    "--ranged/--per-date",
    "ranged",
    default=None,
    help="One Dagster run over the whole range (each date still its own execution), or a run per "
    "date and job. Default: ranged for small books (at most 20,000 accounts), else per date.",
)


def fail_on(launched: list[LaunchedRun], planned: int, not_launched: str) -> None:
    """Exit non-zero at the first failed run, saying how many of the planned ones never ran
    (`not_launched` words them: "date(s) not run")."""
    failed = [o for o in launched if not o.success]
    if failed:
        first = failed[0]
        raise click.ClickException(
            f"run {first.run_id} for {first.partition_key} {first.status}: {first.error or 'see the run'}; "
            f"{planned - len(launched)} later {not_launched}"
        )


@click.command()
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="Business date D to accrue.")
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), help="First business date of a range.")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), help="Last business date of a range.")
@click.option("--account-id", "account_ids", type=int, multiple=True, help="Only this account (repeatable).")
@click.option(
    "--include-dormant/--exclude-dormant",
    default=None,
    help="Accrue DORMANT accounts too (default: the job's configuration).",
)
@click.option(
    "--batch-size", type=int, default=None, help="Accounts per chunk (default: the job's configuration)."
)
def accrue(
    day: Any,
    start: Any,
    end: Any,
    account_ids: tuple[int, ...],
    include_dormant: bool | None,
    batch_size: int | None,
) -> None:
    """Run the daily accrual for D, or for every date from --from to --to in order, as Dagster runs."""
    # Imported here so `interest-pipeline --help` and the db commands don't load the job graph.
    from interest_pipeline.accrual.job import reconstructable_accrual_job

    dates = _dates(day and day.date(), start and start.date(), end and end.date())
    config = _plan_config(account_ids, include_dormant, batch_size)
    checked(JOB_TYPE, dates, config)
    with track(len(dates), "accrue") as tracker:
        launched = launch_partition_runs(
            dg.reconstructable(reconstructable_accrual_job),
            [d.isoformat() for d in dates],
            run_config=run_config_of("plan_accrual", config),
            on_finished=progress_reporter(tracker, "accrued"),
        )
    fail_on(launched, len(dates), "date(s) not run")


def register_job_commands(group: click.Group) -> None:
    group.add_command(accrue)

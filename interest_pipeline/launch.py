"""Launch real runs of a partitioned job on the configured Dagster instance, one partition after another.

The runs are recorded in the instance like any other (run list, partition view) because they
carry the `dagster/partition` tag; they execute in this process with the job's own executor.
"""

import os
import socket
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import dagster as dg
import psycopg
from dagster._core.definitions.reconstruct import ReconstructableJob
from dagster._core.execution.job_execution_result import JobExecutionResult
from pydantic import ValidationError
from sqlalchemy import func, select

from interest_pipeline.batch.config import (
    BatchConfigError,
    BatchRunConfig,
    EffectiveConfig,
    load_job_config,
    merge_config,
    missing_accounts,
)
from interest_pipeline.batch.executions import executions_of_run
from interest_pipeline.batch.tags import (
    JOB_TYPE_TAG,
    MAX_RUNTIME_TAG,
    PARTITION_RANGE_END_TAG,
    PARTITION_RANGE_START_TAG,
    PARTITION_TAG,
    WORKER_HOST_TAG,
    WORKER_PID_TAG,
)
from interest_pipeline.db import core, migrate
from interest_pipeline.db.admin import database_exists
from interest_pipeline.db.engine import raw_connection
from interest_pipeline.db.tables import ACCOUNT
from interest_pipeline.settings import (
    SettingsError,
    current_settings,
    database_url,
    ensure_dagster_home,
)

# MAX_RUNTIME_TAG is enforced by run monitoring in the daemon for runs it launched; CLI runs stop
# at the deadline themselves (batch.lifecycle.bound_by_timeout), so both end a run over the row's
# timeout_seconds.


class LaunchRefused(Exception):
    """Input the launch will not take; nothing was written. `usage`: the caller's input (exit 2),
    else the state of the system (exit 1)."""

    def __init__(self, message: str, *, usage: bool = True) -> None:
        super().__init__(message)
        self.usage = usage


def check_database() -> None:
    """The environment's settings are valid and the application database exists, migrated to head.

    Checked before anything is launched, so a missing database is refused without creating it
    (nor Dagster's `_dagster` database beside it).
    """
    try:
        settings = current_settings()
    except SettingsError as error:
        raise LaunchRefused(str(error)) from error
    url = database_url(settings)
    try:
        exists = database_exists(url)
    except psycopg.OperationalError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise LaunchRefused(
            f"cannot reach the database server of {url.database}: {first}", usage=False
        ) from error
    if not exists:
        raise LaunchRefused(
            f"database {url.database!r} does not exist on {url.host or 'the server'}: create it, then run "
            "`interest-pipeline db upgrade`",
            usage=False,
        )
    current, head = migrate.current_revision(url), migrate.head_revision()
    if current != head:
        raise LaunchRefused(
            f"database {url.database!r} is at revision {current or '(none)'}, not {head}: run "
            "`interest-pipeline db upgrade`",
            usage=False,
        )


def check_dates(partition_keys: Sequence[str]) -> None:
    """Every date is a partition of the jobs: from INTEREST_PARTITIONS_START to the last ended day."""
    from interest_pipeline.accrual.job import business_date_partitions

    settings = current_settings()
    last = business_date_partitions(settings).get_last_partition_key()
    for key in partition_keys:
        day = date.fromisoformat(key)
        if day < settings.partitions_start:
            raise LaunchRefused(
                f"{key} is before the partitions' start {settings.partitions_start} "
                "(INTEREST_PARTITIONS_START)"
            )
        if last is None or key > last:
            raise LaunchRefused(f"{key} is not a business date that has ended yet (the last one is {last})")


def check_run_config(job_type: str, overrides: Mapping[str, Any]) -> EffectiveConfig:
    """The run's config merged over the job's config row exactly as the run will, and the
    account ids it names all existing; LaunchRefused naming every problem."""
    try:
        run_config = BatchRunConfig(**overrides)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise LaunchRefused(f"invalid configuration for {job_type}: {problems}") from error
    with raw_connection() as conn:
        try:
            config = merge_config(load_job_config(conn, job_type, run_config.config_id), run_config)
        except BatchConfigError as error:
            raise LaunchRefused(str(error)) from error
        if config.account_ids:
            unknown = missing_accounts(conn, config.account_ids)
            if unknown:
                shown = ", ".join(map(str, unknown[:20])) + (" ..." if len(unknown) > 20 else "")
                raise LaunchRefused(f"unknown account id(s): {shown}")
    return config


def check_launch(
    job_type: str, partition_keys: Sequence[str], overrides: Mapping[str, Any]
) -> EffectiveConfig:
    """Everything a launch needs, checked in order, before any run exists."""
    check_database()
    check_dates(partition_keys)
    return check_run_config(job_type, overrides)


def launch_tags(job: ReconstructableJob) -> dict[str, str]:
    """Tags every in-process run gets: this process as its worker, and the row's timeout as max_runtime."""
    tags = {WORKER_HOST_TAG: socket.gethostname(), WORKER_PID_TAG: str(os.getpid())}
    job_type = job.get_definition().tags.get(JOB_TYPE_TAG)
    if job_type:
        try:
            with raw_connection() as conn:
                tags[MAX_RUNTIME_TAG] = str(load_job_config(conn, job_type).timeout_seconds)
        except (BatchConfigError, psycopg.Error):
            pass  # the run's own planning step reports it, with the run
    return tags


@dataclass(frozen=True)
class LaunchedRun:
    """A date's run as its launcher saw it end. For a date of a ranged run: `run_id` is the ranged
    run's, `execution_id` the date's own execution and `status` what its single-date run's
    would have been (SUCCESS, or the ranged run's end at the date that failed)."""

    partition_key: str
    run_id: str
    success: bool
    status: str
    error: str | None = None
    execution_id: str | None = None
    job_type: str | None = None

    @property
    def execution(self) -> str:
        """The id of the execution row the date's run wrote (or would have)."""
        return self.execution_id or self.run_id


def business_dates(start: date, end: date) -> Iterator[date]:
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def configured_instance() -> dg.DagsterInstance:
    """The instance in DAGSTER_HOME (made PostgreSQL-backed under the project's home when unset)."""
    ensure_dagster_home()
    return dg.DagsterInstance.get()


def launch_partition_runs(
    job: ReconstructableJob,
    partition_keys: Sequence[str],
    *,
    run_config: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    instance: dg.DagsterInstance | None = None,
    on_finished: Callable[[LaunchedRun], None] | None = None,
) -> list[LaunchedRun]:
    """Run `job` for each partition in order, waiting for each; stops at the first failed run.

    `job` must be reconstructable (`dg.reconstructable(job_def)`) so that multiprocess
    executors can load it in their step processes.
    """
    target = instance or configured_instance()
    launched: list[LaunchedRun] = []
    for key in partition_keys:
        result = dg.execute_job(
            job,
            instance=target,
            run_config=dict(run_config or {}),
            tags={**launch_tags(job), **(tags or {}), PARTITION_TAG: key},
        )
        run = target.get_run_by_id(result.run_id)
        if run is not None:
            _after_run(target, run)
        outcome = LaunchedRun(
            partition_key=key,
            run_id=result.run_id,
            success=result.success,
            status=run.status.value if run else "UNKNOWN",
            error=_first_error(result),
        )
        launched.append(outcome)
        if on_finished:
            on_finished(outcome)
        if not result.success:
            break
    return launched


# A book of at most this many accounts runs a range of dates as one ranged run by default
# (pipeline.run_pipeline): its dates' SQL takes a fraction of a run's ~2-3 s fixed cost, so one
# run in one process beats a run per date and a step process per chunk. Measured at 2,000
# accounts (docs/benchmarks.md "Small books"); larger books keep a run per date, whose chunks
# run in parallel step processes.
SMALL_BOOK_ACCOUNTS = 20_000


def is_small_book(limit: int = SMALL_BOOK_ACCOUNTS) -> bool:
    """Whether the book has at most `limit` accounts (counting no further than limit + 1)."""
    capped = select(ACCOUNT.c.id).limit(limit + 1).subquery()
    with raw_connection() as conn:
        return int(core.fetch_value(conn, select(func.count()).select_from(capped))) <= limit


def ranged_max_runtime(job_types: Sequence[str], dates: int) -> dict[str, str]:
    """dagster/max_runtime of a ranged run: each of its executions may take its row's timeout
    (which the run enforces per execution itself: batch.lifecycle.bound_by_timeout)."""
    try:
        with raw_connection() as conn:
            seconds = sum(load_job_config(conn, job_type).timeout_seconds for job_type in job_types)
    except (BatchConfigError, psycopg.Error):
        return {}  # the run's first date reports it, with the run
    return {MAX_RUNTIME_TAG: str(seconds * dates)}


def launch_ranged_run(
    job: ReconstructableJob,
    start: date,
    end: date,
    job_types: Sequence[str],
    *,
    run_config: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    instance: dg.DagsterInstance | None = None,
) -> list[LaunchedRun]:
    """ONE run of the ranged job (interest_pipeline.ranged) over the dates `start`..`end`, each
    date running `job_types` in order; waits for it. Returns a LaunchedRun per (date, job type)
    it got to, in order: those that succeeded, then the one that failed, if one did.
    """
    target = instance or configured_instance()
    dates = list(business_dates(start, end))
    run_tags = {
        WORKER_HOST_TAG: socket.gethostname(),
        WORKER_PID_TAG: str(os.getpid()),
        **ranged_max_runtime(job_types, len(dates)),
        **(tags or {}),
        PARTITION_RANGE_START_TAG: start.isoformat(),
        PARTITION_RANGE_END_TAG: end.isoformat(),
    }
    result = dg.execute_job(job, instance=target, run_config=dict(run_config or {}), tags=run_tags)
    run = target.get_run_by_id(result.run_id)
    if run is not None:
        _after_run(target, run)
    with raw_connection() as conn:
        rows = executions_of_run(conn, result.run_id)
    failed_status = run.status.value if run else "UNKNOWN"
    outcomes = [
        LaunchedRun(
            partition_key=row.business_date.isoformat(),
            run_id=result.run_id,
            success=row.status in ("SUCCESS", "PARTIAL"),
            status="SUCCESS" if row.status in ("SUCCESS", "PARTIAL") else failed_status,
            error=None if row.status in ("SUCCESS", "PARTIAL") else row.error_message or _first_error(result),
            execution_id=row.id,
            job_type=row.job_type,
        )
        for row in rows
    ]
    if not result.success and all(o.success for o in outcomes):
        # It failed before the next date's execution opened (its configuration was refused).
        planned = [(d, j) for d in dates for j in job_types]
        day, job_type = planned[min(len(outcomes), len(planned) - 1)]
        outcomes.append(
            LaunchedRun(
                partition_key=day.isoformat(),
                run_id=result.run_id,
                success=False,
                status=failed_status,
                error=_first_error(result),
                job_type=job_type,
            )
        )
    return outcomes


def _first_error(result: JobExecutionResult) -> str | None:
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error is not None:
            error = event.step_failure_data.error
            # The op's own exception, not Dagster's wrapper around it.
            while error.cause is not None:
                error = error.cause
            return str(error.message).strip()
    return None


def _after_run(instance: dg.DagsterInstance, run: dg.DagsterRun) -> None:
    """No daemon sees an in-process run end: close an abnormal end and alert, as its sensor would."""
    from interest_pipeline.alerts.outcomes import handle_run_end
    from interest_pipeline.definitions import DATABASE, NOTIFIER

    handle_run_end(instance, run, DATABASE, NOTIFIER)

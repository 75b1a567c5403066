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

from interest_pipeline.batch.config import (
    BatchConfigError,
    BatchRunConfig,
    EffectiveConfig,
    load_job_config,
    merge_config,
    missing_accounts,
)
from interest_pipeline.batch.tags import (
    JOB_TYPE_TAG,
    MAX_RUNTIME_TAG,
    PARTITION_TAG,
    WORKER_HOST_TAG,
    WORKER_PID_TAG,
)
from interest_pipeline.db import migrate
from interest_pipeline.db.admin import database_exists
from interest_pipeline.db.engine import raw_connection
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
    partition_key: str
    run_id: str
    success: bool
    status: str
    error: str | None = None


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

"""Launch real runs of a partitioned job on the configured Dagster instance, one partition after another.

The runs are recorded in the instance like any other (run list, partition view) because they
carry the `dagster/partition` tag; they execute in this process with the job's own executor.
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableJob
from dagster._core.execution.job_execution_result import JobExecutionResult

from interest_pipeline.batch.tags import PARTITION_TAG
from interest_pipeline.settings import ensure_dagster_home


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
            tags={**(tags or {}), PARTITION_TAG: key},
        )
        run = target.get_run_by_id(result.run_id)
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

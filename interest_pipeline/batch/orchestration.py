"""Dagster glue shared by the batch jobs: how each is made, business date, trigger, run states,
failure handling, metadata."""

import socket
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

import dagster as dg

from interest_pipeline.batch.chunks import ChunkTask
from interest_pipeline.batch.config import load_job_config
from interest_pipeline.batch.executions import ExecutionRow
from interest_pipeline.batch.executor import chunk_executor
from interest_pipeline.batch.lifecycle import (
    MarkRunFailed,
    RunState,
    RunTimedOut,
    Worker,
    fail_run,
    is_transient,
)
from interest_pipeline.batch.run_launcher import run_worker_pid
from interest_pipeline.batch.tags import JOB_TYPE_TAG, WORKER_HOST_TAG, WORKER_PID_TAG
from interest_pipeline.batch.trigger import trigger_from_tags
from interest_pipeline.resources.database import DatabaseResource
from interest_pipeline.settings import Settings, current_settings

_RUN_STATES = {
    dg.DagsterRunStatus.SUCCESS: "SUCCESS",
    dg.DagsterRunStatus.FAILURE: "FAILED",
    dg.DagsterRunStatus.CANCELED: "CANCELLED",
    dg.DagsterRunStatus.CANCELING: "CANCELLED",
}


def scheduled_run_request(
    database: DatabaseResource, job_type: str, business_date: date, not_done: str
) -> dg.RunRequest | dg.SkipReason:
    """A schedule's run of `business_date` (run key = partition key), or why it is skipped:
    the date is before the partitions' start, or the job's config row is disabled."""
    settings = current_settings()
    if business_date < settings.partitions_start:
        return dg.SkipReason(f"{business_date} is before the partitions' start {settings.partitions_start}")
    partition_key = business_date.isoformat()
    with database.connect() as conn:
        enabled = load_job_config(conn, job_type).enabled
    if not enabled:
        return dg.SkipReason(
            f"{job_type} is disabled in interest_batch_config (enabled = false); {partition_key} {not_done}"
        )
    return dg.RunRequest(run_key=partition_key, partition_key=partition_key)


def business_date(context: dg.OpExecutionContext) -> date:
    """The partition key is the business date D."""
    return date.fromisoformat(context.partition_key)


def run_state_lookup(instance: dg.DagsterInstance) -> RunState:
    def state(run_id: str) -> str | None:
        run = instance.get_run_by_id(run_id)
        if run is None:
            return None
        return _RUN_STATES.get(run.status, "RUNNING")

    return state


T = TypeVar("T")


def run_worker(context: dg.OpExecutionContext) -> Worker | None:
    """The run worker's host and pid: the launcher's tags, else the process that started the run.

    Steps run in child processes, so the step's own pid would say nothing about the run worker;
    the RUN_START event is written by the run worker itself and carries its pid.
    """
    tags = context.run.tags
    if WORKER_PID_TAG in tags and tags[WORKER_PID_TAG].isdigit():
        return Worker(host=tags.get(WORKER_HOST_TAG, socket.gethostname()), pid=int(tags[WORKER_PID_TAG]))
    pid = run_worker_pid(context.instance, context.run_id)
    # Executors of these jobs run steps on the run worker's host (multiprocess, in-process).
    return Worker(host=socket.gethostname(), pid=pid) if pid is not None else None


def mark_run_failed(instance: dg.DagsterInstance) -> MarkRunFailed:
    """Report to Dagster that a run whose worker vanished has failed, freeing its queue slot."""

    def mark(run_id: str, message: str) -> None:
        run = instance.get_run_by_id(run_id)
        if run is not None and not run.is_finished:
            instance.report_run_failed(run, message)

    return mark


def run_facts(context: dg.OpExecutionContext) -> dict[str, Any]:
    """What a plan op tells start_batch about its run: id, business date, trigger, how to ask
    Dagster about other runs, its worker, and how to fail a run whose worker is gone."""
    return {**run_facts_of_range(context), "business_date": business_date(context)}


def run_facts_of_range(context: dg.OpExecutionContext) -> dict[str, Any]:
    """run_facts without the business date: what a ranged run's dates share."""
    return {
        "run_id": context.run_id,
        "trigger": trigger_from_tags(context.run.tags),
        "run_state": run_state_lookup(context.instance),
        "worker": run_worker(context),
        "mark_run_failed": mark_run_failed(context.instance),
    }


def retry_transient(context: dg.OpExecutionContext, task: ChunkTask, call: Callable[[], T]) -> T:
    """Run a chunk; a transient database error asks Dagster to retry the step (config row's
    max_retries, retry_interval_seconds), so the retries show in the UI.

    The retry is exact because the chunk is one transaction: the failed attempt committed nothing.
    """
    try:
        return call()
    except Exception as error:
        if not is_transient(error):
            raise
        context.log.warning(
            f"chunk {task.chunk.mapping_key}: transient {type(error).__name__} ({error}); "
            f"attempt {context.retry_number + 1} of {task.config.max_retries + 1}"
        )
        raise dg.RetryRequested(
            max_retries=task.config.max_retries, seconds_to_wait=task.config.retry_interval_seconds
        ) from error


def failure_message(step_key: str, error: BaseException | None) -> str | None:
    """The execution's error_message for a step that raised: codes (TIMED_OUT) stay first."""
    if error is None:
        return None
    if isinstance(error, RunTimedOut):
        return str(error)
    cause = error.__cause__
    if isinstance(error, dg.RetryRequested) and cause is not None:
        error = cause
    return f"step {step_key} failed: {type(error).__name__}: {error}"[:4000]


@dg.failure_hook(required_resource_keys={"database"})
def close_execution_on_failure(context: dg.HookContext) -> None:
    """A failed step fails the run, so its execution is FAILED, with the step's error.

    The writer of step failures: it runs in the run itself, with or without a daemon, and is the
    only one that knows the step's exception.
    """
    message = failure_message(context.step_key, context.op_exception)
    # The run's execution, or the one date of a ranged run that was running.
    fail_run(context.resources.database, context.run_id, "FAILED", message)


def execution_metadata(row: ExecutionRow) -> dict[str, dg.MetadataValue]:
    """The execution's outcome as run metadata; amounts as text so the UI shows them exactly."""
    metadata: dict[str, dg.MetadataValue] = {
        "execution_id": dg.MetadataValue.text(row.id),
        "business_date": dg.MetadataValue.text(row.business_date.isoformat()),
        "status": dg.MetadataValue.text(row.status),
        "chunks": dg.MetadataValue.int(row.total_chunks),
        "accounts_processed": dg.MetadataValue.int(row.accounts_processed),
        "accounts_succeeded": dg.MetadataValue.int(row.accounts_succeeded),
        "accounts_skipped": dg.MetadataValue.int(row.accounts_skipped),
        "accounts_failed": dg.MetadataValue.int(row.accounts_failed),
        "totals_by_currency": dg.MetadataValue.json(dict(sorted(row.totals_by_currency.items()))),
    }
    for currency, amount in sorted(row.totals_by_currency.items()):
        metadata[f"total_{currency}"] = dg.MetadataValue.text(str(amount))
    return metadata


def business_date_partitions(settings: Settings) -> dg.DailyPartitionsDefinition:
    """From INTEREST_PARTITIONS_START, one per day of the business timezone: both jobs' partitions."""
    return dg.DailyPartitionsDefinition(
        start_date=settings.partitions_start.isoformat(), timezone=settings.business_timezone
    )


def batch_job(
    graph: dg.GraphDefinition,
    *,
    name: str,
    job_module: str,
    description: str,
    executor_def: dg.ExecutorDefinition | None,
    settings: Settings | None,
) -> dg.JobDefinition:
    """A batch job as both jobs are made: the business-date partitions, the chunk executor of its
    module (unless given another), the failure hook and its job-type tag, from the settings read now
    (current_settings() unless given), so no module-level job reads the environment."""
    settings = settings or current_settings()
    return graph.to_job(
        name=name,
        partitions_def=business_date_partitions(settings),
        executor_def=executor_def or chunk_executor(job_module, settings),
        hooks={close_execution_on_failure},
        tags={JOB_TYPE_TAG: name},
        description=description,
    )


def job_of_definitions(name: str) -> dg.JobDefinition:
    """The job `name` as interest_pipeline.definitions binds it (with its resources): what each job
    module's `reconstructable_*_job` returns, so step processes and Celery workers load the same job."""
    from interest_pipeline.definitions import defs  # definitions imports the job modules, which import this

    return defs.get_job_def(name)

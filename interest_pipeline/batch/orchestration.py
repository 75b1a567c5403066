"""Dagster glue shared by the batch jobs: business date, trigger, run states, failure handling, metadata."""

from collections.abc import Sequence
from datetime import date

import dagster as dg

from interest_pipeline.batch.config import load_job_config
from interest_pipeline.batch.executions import ExecutionRow
from interest_pipeline.batch.lifecycle import RunState, fail_batch
from interest_pipeline.resources.database import DatabaseResource
from interest_pipeline.settings import load_settings

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
    settings = load_settings()
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


@dg.failure_hook(required_resource_keys={"database"})
def close_execution_on_failure(context: dg.HookContext) -> None:
    """A failed step fails the run, so its execution is FAILED, with the step's error."""
    error = context.op_exception
    message = f"step {context.step_key} failed: {type(error).__name__}: {error}" if error else None
    fail_batch(context.resources.database, context.run_id, "FAILED", message and message[:4000])


def execution_status_sensors(jobs: Sequence[dg.JobDefinition], prefix: str) -> list[dg.SensorDefinition]:
    """Sensors that close the execution of a run that failed or was canceled outside any step.

    The failure hook covers step errors; these cover killed processes, run-level failures and
    cancellations, which run no hook.
    """

    @dg.run_failure_sensor(name=f"{prefix}_failure_closes_execution", monitored_jobs=list(jobs))
    def on_failure(context: dg.RunFailureSensorContext, database: DatabaseResource) -> None:
        message = context.failure_event.message if context.failure_event else None
        fail_batch(database, context.dagster_run.run_id, "FAILED", message and message[:4000])

    @dg.run_status_sensor(
        name=f"{prefix}_cancel_closes_execution",
        run_status=dg.DagsterRunStatus.CANCELED,
        monitored_jobs=list(jobs),
    )
    def on_cancel(context: dg.RunStatusSensorContext, database: DatabaseResource) -> None:
        fail_batch(database, context.dagster_run.run_id, "CANCELLED", "the Dagster run was canceled")

    return [on_failure, on_cancel]


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

"""Posting follows accrual: when the accrual run for P succeeds, the posting run for P is requested."""

import dagster as dg

from interest_pipeline.batch.config import load_job_config
from interest_pipeline.batch.tags import MAX_RUNTIME_TAG, PARTITION_TAG, POSTING_FOLLOWS_TAG
from interest_pipeline.posting.sql import JOB_TYPE
from interest_pipeline.resources.database import DatabaseResource


def posting_request(
    run: dg.DagsterRun, enabled: bool, timeout_seconds: int | None = None
) -> dg.RunRequest | dg.SkipReason:
    partition_key = run.tags.get(PARTITION_TAG)
    if partition_key is None:
        return dg.SkipReason(f"accrual run {run.run_id} has no partition (business date)")
    if run.tags.get(POSTING_FOLLOWS_TAG):
        return dg.SkipReason(f"accrual run {run.run_id} for {partition_key}: its launcher posts it")
    if not enabled:
        return dg.SkipReason(f"{JOB_TYPE} is disabled in interest_batch_config; {partition_key} not posted")
    # One request per successful accrual run: a repair re-run of P's accrual posts P again, which
    # picks up the accounts it unblocked and posts nothing twice.
    # The config row's timeout as dagster/max_runtime: run monitoring (daemon) enforces it.
    tags = {MAX_RUNTIME_TAG: str(timeout_seconds)} if timeout_seconds else {}
    return dg.RunRequest(run_key=f"after-accrual-{run.run_id}", partition_key=partition_key, tags=tags)


def posting_after_accrual_sensor(
    accrual_job: dg.JobDefinition, posting_job: dg.JobDefinition
) -> dg.SensorDefinition:
    """`interest_posting_after_accrual` between the two jobs posting.definitions is given."""

    @dg.run_status_sensor(
        name="interest_posting_after_accrual",
        run_status=dg.DagsterRunStatus.SUCCESS,
        monitored_jobs=[accrual_job],
        request_job=posting_job,
        description="Requests the posting run for P once the accrual run for P has succeeded.",
    )
    def interest_posting_after_accrual(
        context: dg.RunStatusSensorContext, database: DatabaseResource
    ) -> dg.RunRequest | dg.SkipReason:
        with database.connect() as conn:
            row = load_job_config(conn, JOB_TYPE)
        return posting_request(context.dagster_run, row.enabled, row.timeout_seconds)

    return interest_posting_after_accrual

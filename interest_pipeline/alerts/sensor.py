"""The run-outcome sensor: the daemon's one closer of abnormal ends, and the alert sender.

It sees every finished run of both jobs (by update time, after its cursor): a run Dagster ended
FAILURE or CANCELED without its execution being closed (a killed worker that run monitoring
marked failed, a run over dagster/max_runtime, a cancel) gets its execution closed here; then
any FAILED, PARTIAL, timed-out or blocking run is alerted, once (alerts.outcomes.claim_alert).
A month report run (read-only, no execution row) that failed is alerted too.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from interest_pipeline.accrual.job import JOB_NAME as ACCRUAL_JOB
from interest_pipeline.alerts.notifier import NotifierResource
from interest_pipeline.alerts.outcomes import handle_run_executions, report_alert
from interest_pipeline.posting.job import JOB_NAME as POSTING_JOB
from interest_pipeline.ranged.job import JOB_NAME as RANGED_JOB
from interest_pipeline.reporting.month_job import JOB_NAME as MONTH_REPORT_JOB
from interest_pipeline.resources.database import DatabaseResource

JOBS = (ACCRUAL_JOB, POSTING_JOB, RANGED_JOB)
FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
# A first evaluation looks back this far, so turning the sensor on does not alert on old history.
FIRST_LOOK_BACK = timedelta(days=1)
BATCH = 100


@dg.sensor(
    name="interest_run_outcomes",
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Closes the execution of a run that ended FAILED or CANCELED outside any step "
    "(worker lost, timed out, canceled) and alerts on FAILED, PARTIAL, timed-out and blocking runs "
    "and on failed month reports.",
)
def interest_run_outcomes(
    context: dg.SensorEvaluationContext, database: DatabaseResource, notifier: NotifierResource
) -> dg.SkipReason:
    after = (
        datetime.fromtimestamp(float(context.cursor), UTC)
        if context.cursor
        else datetime.now(UTC) - FIRST_LOOK_BACK
    )
    records = context.instance.get_run_records(
        filters=dg.RunsFilter(statuses=FINISHED, updated_after=after),
        order_by="update_timestamp",
        ascending=True,
        limit=BATCH,
    )
    alerted = closed = 0
    for record in records:
        if record.dagster_run.job_name in JOBS:
            alerted += len(handle_run_executions(context.instance, record.dagster_run, database, notifier))
            closed += 1
        elif record.dagster_run.job_name == MONTH_REPORT_JOB:
            alerted += report_alert(context.instance, record.dagster_run, notifier) is not None
        after = max(after, record.update_timestamp.astimezone(UTC))
    context.update_cursor(str(after.timestamp()))
    return dg.SkipReason(f"{closed} finished run(s) seen, {alerted} alert(s) sent")

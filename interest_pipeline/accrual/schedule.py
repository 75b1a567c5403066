"""The accrual's daily schedule: at 00:00 in the business timezone, for the day that just ended."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from interest_pipeline.accrual.job import daily_interest_accrual
from interest_pipeline.accrual.sql import JOB_TYPE
from interest_pipeline.batch.config import load_job_config
from interest_pipeline.resources.database import DatabaseResource
from interest_pipeline.settings import load_settings


def business_date_ended_at(tick: datetime, timezone: str) -> date:
    """The business date whose day ended at `tick`: the local day just before it."""
    return (tick.astimezone(ZoneInfo(timezone)) - timedelta(seconds=1)).date()


@dg.schedule(
    name="daily_interest_accrual_schedule",
    job=daily_interest_accrual,
    cron_schedule="0 0 * * *",
    execution_timezone=load_settings().business_timezone,
    description="Accrues the business date that just ended; skipped while the job's config row is disabled.",
)
def daily_interest_accrual_schedule(
    context: dg.ScheduleEvaluationContext, database: DatabaseResource
) -> dg.RunRequest | dg.SkipReason:
    settings = load_settings()
    tick = context.scheduled_execution_time or datetime.now(UTC)
    business_date = business_date_ended_at(tick, settings.business_timezone)
    if business_date < settings.partitions_start:
        return dg.SkipReason(f"{business_date} is before the partitions' start {settings.partitions_start}")
    partition_key = business_date.isoformat()
    with database.connect() as conn:
        row = load_job_config(conn, JOB_TYPE)
    if not row.enabled:
        return dg.SkipReason(
            f"{JOB_TYPE} is disabled in interest_batch_config (enabled = false); {partition_key} not accrued"
        )
    return dg.RunRequest(run_key=partition_key, partition_key=partition_key)

"""The accrual's daily schedule: at 00:00 in the business timezone, for the day that just ended."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from interest_pipeline.accrual.job import daily_interest_accrual
from interest_pipeline.accrual.sql import JOB_TYPE
from interest_pipeline.batch.orchestration import scheduled_run_request
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
    tick = context.scheduled_execution_time or datetime.now(UTC)
    business_date = business_date_ended_at(tick, load_settings().business_timezone)
    return scheduled_run_request(database, JOB_TYPE, business_date, "not accrued")

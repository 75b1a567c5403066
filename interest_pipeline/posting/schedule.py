"""The posting's daily schedule: 01:00 in the business timezone, for the previous business date.

Normally the sensor has posted that date already; the scheduled run then posts nothing new
(every key exists) and only records an execution whose accounts are all ALREADY_POSTED.
"""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from interest_pipeline.batch.orchestration import scheduled_run_request
from interest_pipeline.posting.job import interest_posting
from interest_pipeline.posting.sql import JOB_TYPE
from interest_pipeline.resources.database import DatabaseResource
from interest_pipeline.settings import load_settings

# The seeded interest_batch_config default; a schedule's cron is fixed when the definitions load,
# which must not need the database.
CRON = "0 1 * * *"


def previous_business_date(tick: datetime, timezone: str) -> date:
    """The local date before the one `tick` falls on."""
    return tick.astimezone(ZoneInfo(timezone)).date() - timedelta(days=1)


@dg.schedule(
    name="interest_posting_schedule",
    job=interest_posting,
    cron_schedule=CRON,
    execution_timezone=load_settings().business_timezone,
    description="Posts the previous business date at 01:00; harmless when the sensor already has.",
)
def interest_posting_schedule(
    context: dg.ScheduleEvaluationContext, database: DatabaseResource
) -> dg.RunRequest | dg.SkipReason:
    tick = context.scheduled_execution_time or datetime.now(UTC)
    business_date = previous_business_date(tick, load_settings().business_timezone)
    return scheduled_run_request(database, JOB_TYPE, business_date, "not posted")

"""The posting's schedule: each config row's cron (seeded: 01:00) for the previous business date.

Normally the sensor has posted that date already; the scheduled run then posts nothing new
(every key exists) and only records an execution whose accounts are all ALREADY_POSTED.
batch.config_schedule evaluates the rows, so a changed cron takes effect on the next tick.
"""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from interest_pipeline.batch.config_schedule import ScheduleSpec
from interest_pipeline.posting.sql import JOB_TYPE


def previous_business_date(tick: datetime, timezone: str) -> date:
    """The local date before the one `tick` falls on."""
    return tick.astimezone(ZoneInfo(timezone)).date() - timedelta(days=1)


# posting.definitions makes its sensor for the job, with the settings the definitions are built from.
POSTING_SCHEDULE = ScheduleSpec(
    "interest_posting_schedule",
    JOB_TYPE,
    previous_business_date,
    "Posts the previous business date at each enabled config row's cron; harmless when "
    "the after-accrual sensor already has.",
)

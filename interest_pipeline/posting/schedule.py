"""The posting's schedule: each config row's cron (seeded: 01:00) for the previous business date.

Normally the sensor has posted that date already; the scheduled run then posts nothing new
(every key exists) and only records an execution whose accounts are all ALREADY_POSTED.
batch.config_schedule evaluates the rows, so a changed cron takes effect on the next tick.
"""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from interest_pipeline.batch.config_schedule import config_schedule_sensor
from interest_pipeline.posting.sql import JOB_TYPE
from interest_pipeline.settings import Settings


def previous_business_date(tick: datetime, timezone: str) -> date:
    """The local date before the one `tick` falls on."""
    return tick.astimezone(ZoneInfo(timezone)).date() - timedelta(days=1)


def posting_schedule(job: dg.JobDefinition, settings: Settings) -> dg.SensorDefinition:
    """`interest_posting_schedule`, requesting runs of `job` (built with it in posting.definitions)."""
    return config_schedule_sensor(
        name="interest_posting_schedule",
        job=job,
        settings=settings,
        job_type=JOB_TYPE,
        business_date_of=previous_business_date,
        description="Posts the previous business date at each enabled config row's cron; harmless when "
        "the after-accrual sensor already has.",
    )

"""The accrual's schedule: each config row's cron, in the business timezone, for the day that just ended.

The seeded row says 00:00; batch.config_schedule evaluates the rows, so a changed cron takes
effect on the next tick without a reload.
"""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from interest_pipeline.accrual.sql import JOB_TYPE
from interest_pipeline.batch.config_schedule import config_schedule_sensor
from interest_pipeline.settings import Settings


def business_date_ended_at(tick: datetime, timezone: str) -> date:
    """The business date whose day ended at `tick`: the local day just before it."""
    return (tick.astimezone(ZoneInfo(timezone)) - timedelta(seconds=1)).date()


def accrual_schedule(job: dg.JobDefinition, settings: Settings) -> dg.SensorDefinition:
    """`daily_interest_accrual_schedule`, requesting runs of `job` (built with it in accrual.definitions)."""
    return config_schedule_sensor(
        name="daily_interest_accrual_schedule",
        job=job,
        settings=settings,
        job_type=JOB_TYPE,
        business_date_of=business_date_ended_at,
        description="Accrues the business date that just ended at each enabled config row's cron; "
        "a disabled row's ticks are skipped with the reason.",
    )

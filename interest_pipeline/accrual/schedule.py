"""The accrual's schedule: each config row's cron, in the business timezone, for the day that just ended.

The seeded row says 00:00; batch.config_schedule evaluates the rows, so a changed cron takes
effect on the next tick without a reload.
"""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from interest_pipeline.accrual.sql import JOB_TYPE
from interest_pipeline.batch.config_schedule import ScheduleSpec


def business_date_ended_at(tick: datetime, timezone: str) -> date:
    """The business date whose day ended at `tick`: the local day just before it."""
    return (tick.astimezone(ZoneInfo(timezone)) - timedelta(seconds=1)).date()


# accrual.definitions makes its sensor for the job, with the settings the definitions are built from.
ACCRUAL_SCHEDULE = ScheduleSpec(
    "daily_interest_accrual_schedule",
    JOB_TYPE,
    business_date_ended_at,
    "Accrues the business date that just ended at each enabled config row's cron; "
    "a disabled row's ticks are skipped with the reason.",
)

"""Schedule ticks as the daemon computes them, from a schedule's own cron and timezone."""

from datetime import datetime

import dagster as dg
from dagster._utils.schedules import cron_string_iterator


def next_tick(schedule: dg.ScheduleDefinition, after: datetime) -> datetime:
    """The first tick of `schedule` after `after` (give a moment between ticks)."""
    return next(cron_string_iterator(after.timestamp(), schedule.cron_schedule, schedule.execution_timezone))

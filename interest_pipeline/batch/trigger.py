"""What started a Dagster run, as the execution table's `trigger` column names it."""

from collections.abc import Mapping

from interest_pipeline.batch.tags import BACKFILL_TAG, SCHEDULE_TAG, SENSOR_TAG, TRIGGER_TAG
from interest_pipeline.domain.enums import ExecutionTrigger


def trigger_from_tags(tags: Mapping[str, str]) -> str:
    """SCHEDULE, SENSOR, BACKFILL or MANUAL (UI launches, the CLI, the API), as stored."""
    if tags.get(TRIGGER_TAG) == ExecutionTrigger.SCHEDULE.value:
        return ExecutionTrigger.SCHEDULE.value
    if SCHEDULE_TAG in tags:
        trigger = ExecutionTrigger.SCHEDULE
    elif SENSOR_TAG in tags:
        trigger = ExecutionTrigger.SENSOR
    elif BACKFILL_TAG in tags:
        trigger = ExecutionTrigger.BACKFILL
    else:
        trigger = ExecutionTrigger.MANUAL
    return trigger.value

"""What started a Dagster run, as the execution table's `trigger` column names it."""

from collections.abc import Mapping

SCHEDULE_TAG = "dagster/schedule_name"
SENSOR_TAG = "dagster/sensor_name"
BACKFILL_TAG = "dagster/backfill"
# Set by the config-row schedules (batch.config_schedule), which Dagster runs as sensors.
TRIGGER_TAG = "interest_pipeline/trigger"


def trigger_from_tags(tags: Mapping[str, str]) -> str:
    """SCHEDULE, SENSOR, BACKFILL or MANUAL (UI launches, the CLI, the API)."""
    if tags.get(TRIGGER_TAG) == "SCHEDULE":
        return "SCHEDULE"
    if SCHEDULE_TAG in tags:
        return "SCHEDULE"
    if SENSOR_TAG in tags:
        return "SENSOR"
    if BACKFILL_TAG in tags:
        return "BACKFILL"
    return "MANUAL"

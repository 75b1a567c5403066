"""The Dagster run tags the project reads or writes, named once.

Dagster's own tags say what a run is for and what started it; ours say what the project adds.
"""

# Dagster's
PARTITION_TAG = "dagster/partition"
SCHEDULE_TAG = "dagster/schedule_name"
SENSOR_TAG = "dagster/sensor_name"
BACKFILL_TAG = "dagster/backfill"

# The project's
JOB_TYPE_TAG = "interest_pipeline/job_type"
# What the operations API (and the config-row schedules) put on what they launch or cancel:
# which config row, and who asked.
CONFIG_ID_TAG = "interest_pipeline/config_id"
TRIGGERED_BY_TAG = "interest_pipeline/triggered_by"
CANCELLED_BY_TAG = "interest_pipeline/cancelled_by"
# Set on accrual runs whose launcher posts P itself (`interest-pipeline run`), so the sensor
# does not request a second, idle posting run for them.
POSTING_FOLLOWS_TAG = "interest_pipeline/posting_follows"

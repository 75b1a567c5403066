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
# Set on accrual runs whose launcher posts P itself (`interest-pipeline run`), so the sensor
# does not request a second, idle posting run for them.
POSTING_FOLLOWS_TAG = "interest_pipeline/posting_follows"

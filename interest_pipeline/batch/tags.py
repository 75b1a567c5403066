"""The Dagster run tags the project reads or writes, named once.

Dagster's own tags say what a run is for and what started it; ours say what the project adds.
"""

# Dagster's
PARTITION_TAG = "dagster/partition"
SCHEDULE_TAG = "dagster/schedule_name"
SENSOR_TAG = "dagster/sensor_name"
BACKFILL_TAG = "dagster/backfill"
# A run over a range of partition keys (a ranged run, interest_pipeline.ranged): its first and last.
PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"
# Enforced by run monitoring in the daemon (the config row's timeout_seconds).
MAX_RUNTIME_TAG = "dagster/max_runtime"

# The project's
JOB_TYPE_TAG = "interest_pipeline/job_type"
# What the operations API (and the config-row schedules) put on what they launch or cancel:
# which config row, and who asked.
CONFIG_ID_TAG = "interest_pipeline/config_id"
TRIGGERED_BY_TAG = "interest_pipeline/triggered_by"
CANCELLED_BY_TAG = "interest_pipeline/cancelled_by"
# Set by the config-row schedules (batch.config_schedule), which Dagster runs as sensors.
TRIGGER_TAG = "interest_pipeline/trigger"
# The tick of the config-row schedule that requested a run.
TICK_TAG = "interest_pipeline/scheduled_tick"
# Set by the CLI launcher on the runs it executes in its own process (launch.py): the run worker
# whose death a later run or the daemon may detect.
WORKER_HOST_TAG = "interest_pipeline/worker_host"
WORKER_PID_TAG = "interest_pipeline/worker_pid"
# Set on accrual runs whose launcher posts P itself (`interest-pipeline run`), so the sensor
# does not request a second, idle posting run for them.
POSTING_FOLLOWS_TAG = "interest_pipeline/posting_follows"

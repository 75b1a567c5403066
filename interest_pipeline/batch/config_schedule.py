"""The config rows' crons as schedules: one sensor per job reads every row on every evaluation.

A Dagster schedule's cron is fixed when the definitions load, so a cron changed in
interest_batch_config (by SQL or the API) would need a code reload. This evaluator instead
reads the rows each time (every SENSOR_INTERVAL_SECONDS), evaluates each enabled row's 5-field
cron in the business timezone, and requests one run for the latest tick of each row that fell
since the previous evaluation (the cursor). Missed ticks older than that (daemon down) are not
replayed: `interest-pipeline run --from --to` is the catch-up. A disabled row, a bad cron or a
date before the partitions' start is a skip, whose reason the tick shows in the UI.
"""

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import dagster as dg
from dagster._utils.schedules import get_latest_completed_cron_tick, is_valid_cron_string

from interest_pipeline.batch.config import PLAN_OPS, ConfigSchedule, config_schedules
from interest_pipeline.batch.tags import CONFIG_ID_TAG, MAX_RUNTIME_TAG, TICK_TAG, TRIGGER_TAG
from interest_pipeline.domain.enums import ExecutionTrigger
from interest_pipeline.resources.database import DatabaseResource
from interest_pipeline.settings import Settings

SENSOR_INTERVAL_SECONDS = 30

# The business date a tick runs for, from the tick and the business timezone.
BusinessDateOf = Callable[[datetime, str], date]


@dataclass(frozen=True)
class Evaluation:
    requests: list[dg.RunRequest]
    skips: list[str]
    cursor: str


def evaluate_rows(
    rows: Sequence[ConfigSchedule],
    *,
    now: datetime,
    cursor: str | None,
    timezone: str,
    partitions_start: date,
    business_date_of: BusinessDateOf,
    last_date: date | None = None,
) -> Evaluation:
    """Run requests for the ticks in (cursor, now] of every enabled row; why the others run nothing.

    The cursor is the time of the previous evaluation; without one (first evaluation) ticks
    start from now, so turning the sensor on does not replay the past.
    """
    since = datetime.fromtimestamp(float(json.loads(cursor)["evaluated_at"]), UTC) if cursor else now
    requests: list[dg.RunRequest] = []
    skips: list[str] = []
    for row in rows:
        label = f"config row {row.id} ({row.job_type})"
        if not row.enabled:
            skips.append(f"{label} is disabled (enabled = false): no run")
            continue
        if not is_valid_cron_string(row.cron_expression):
            skips.append(f"{label}: cron_expression {row.cron_expression!r} is not a valid 5-field cron")
            continue
        tick = get_latest_completed_cron_tick(row.cron_expression, now, timezone)
        if not since < tick <= now:
            skips.append(f"{label}: no tick of {row.cron_expression!r} since {since.isoformat()}")
            continue
        business_date = business_date_of(tick, timezone)
        if business_date < partitions_start:
            skips.append(f"{label}: {business_date} is before the partitions' start {partitions_start}")
            continue
        if last_date is not None and business_date > last_date:
            skips.append(
                f"{label}: {business_date} has not ended yet (the last business date is {last_date})"
            )
            continue
        requests.append(
            dg.RunRequest(
                run_key=f"config-{row.id}-{tick.astimezone(UTC).isoformat()}",
                partition_key=business_date.isoformat(),
                # the run uses this row (batch size, scope, retries), not the job's default one
                run_config={"ops": {PLAN_OPS[row.job_type]: {"config": {"config_id": row.id}}}},
                tags={
                    CONFIG_ID_TAG: str(row.id),
                    TRIGGER_TAG: ExecutionTrigger.SCHEDULE.value,
                    TICK_TAG: tick.astimezone(UTC).isoformat(),
                    # Run monitoring (daemon) terminates the run past the row's timeout.
                    MAX_RUNTIME_TAG: str(row.timeout_seconds),
                },
            )
        )
    return Evaluation(requests, skips, json.dumps({"evaluated_at": now.timestamp()}))


def now_utc() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ScheduleSpec:
    """What one job's config-row schedule is: its sensor's name, the rows' job type, the
    business date a tick runs for, and the UI's description."""

    name: str
    job_type: str
    business_date_of: BusinessDateOf
    description: str


def config_schedule_sensor(
    schedule: ScheduleSpec, job: dg.JobDefinition, settings: Settings
) -> dg.SensorDefinition:
    """The evaluator of the schedule's config rows, requesting `job` runs, in the business
    timezone of `settings` (those the definitions were built with)."""
    name, job_type, business_date_of = schedule.name, schedule.job_type, schedule.business_date_of

    @dg.sensor(
        name=name,
        job=job,
        minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=schedule.description,
    )
    def evaluate(context: dg.SensorEvaluationContext, database: DatabaseResource) -> dg.SensorResult:
        last = job.partitions_def.get_last_partition_key() if job.partitions_def else None
        with database.connect() as conn:
            rows = config_schedules(conn, job_type)
        result = evaluate_rows(
            rows,
            now=now_utc(),
            cursor=context.cursor,
            timezone=settings.business_timezone,
            partitions_start=settings.partitions_start,
            business_date_of=business_date_of,
            last_date=date.fromisoformat(last) if last else None,
        )
        skip = None
        if not result.requests:
            skip = dg.SkipReason("; ".join(result.skips) or f"no {job_type} config row")
        return dg.SensorResult(run_requests=result.requests, skip_reason=skip, cursor=result.cursor)

    return evaluate

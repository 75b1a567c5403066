"""Triggering and cancelling runs: validated here, then done through Dagster's GraphQL (dagster_runs).

A trigger is checked completely (job, date within the partitions, config row, parameters, account
ids, the merged configuration the job itself will compute) before anything is submitted, so bad
input launches nothing.
"""

import logging
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from interest_pipeline.api import repository, validation
from interest_pipeline.api.context import ApiContext
from interest_pipeline.api.dagster_runs import DagsterRunsError
from interest_pipeline.api.errors import BadUserInput, Conflict, DagsterUnavailable, NotFound
from interest_pipeline.batch.config import (
    MAX_ACCOUNT_IDS,
    PLAN_OPS,
    BatchConfigError,
    BatchRunConfig,
    load_job_config,
    merge_config,
)
from interest_pipeline.batch.executions import ExecutionRow, run_id_of
from interest_pipeline.batch.lifecycle import fail_batch
from interest_pipeline.batch.tags import CANCELLED_BY_TAG, CONFIG_ID_TAG, PARTITION_TAG, TRIGGERED_BY_TAG
from interest_pipeline.resources.database import DatabaseResource

log = logging.getLogger(__name__)

# Dagster run statuses after which nothing of the run executes any more.
ENDED = {"SUCCESS", "FAILURE", "CANCELED"}
CANCEL_POLL_SECONDS = 0.5


@dataclass(frozen=True)
class TriggeredRun:
    id: str
    job_type: str
    business_date: date
    config_id: int
    started_at: datetime
    status: str
    dagster_run_url: str


def _business_date(context: ApiContext, value: str | None) -> date:
    last = context.last_finished_business_date()
    if value is None:
        return last
    day = validation.iso_date(value, "input.businessDate")
    assert day is not None
    start = context.settings.partitions_start
    if not start <= day <= last:
        raise BadUserInput(
            f"{day} is outside the partitions: from {start} to {last}, the last finished business date",
            "input.businessDate",
        )
    return day


def trigger(
    context: ApiContext,
    *,
    job_type: str,
    business_date: str | None,
    config_id: Any,
    parameters: Any,
    account_ids: list[Any] | None,
) -> TriggeredRun:
    principal = context.require_admin()
    job = validation.job_type(job_type, "input.jobType")
    day = _business_date(context, business_date)
    overrides = validation.run_parameters(parameters, "input.parameters")
    ids = validation.account_ids(account_ids, "input.accountIds", MAX_ACCOUNT_IDS)
    wanted_config = None if config_id is None else validation.positive_id(config_id, "input.configId")
    logging_level = overrides.pop("logging_level", None)
    with context.engine.connect() as conn:
        if ids is not None:
            unknown = repository.unknown_account_ids(conn, ids)
            if unknown:
                shown = ", ".join(map(str, unknown[:10])) + (" ..." if len(unknown) > 10 else "")
                raise BadUserInput(f"unknown account id(s): {shown}", "input.accountIds")
        # The job's own load and merge, so the run cannot fail on what could be refused here.
        psycopg_conn = conn.connection.driver_connection
        try:
            row = load_job_config(psycopg_conn, job, wanted_config)  # type: ignore[arg-type]
        except BatchConfigError as error:
            raise BadUserInput(str(error), "input.configId") from None
        assert row.config_id is not None
        run_config = {**overrides, "config_id": row.config_id}
        if ids is not None:
            run_config["account_ids"] = ids
        try:
            merge_config(row, BatchRunConfig(**run_config))
        except BatchConfigError as error:
            raise BadUserInput(str(error), "input.parameters") from None
    dagster_config: dict[str, Any] = {"ops": {PLAN_OPS[job]: {"config": run_config}}}
    if logging_level is not None:
        dagster_config["loggers"] = {"console": {"config": {"log_level": logging_level}}}
    tags = {
        PARTITION_TAG: day.isoformat(),
        CONFIG_ID_TAG: str(row.config_id),
        TRIGGERED_BY_TAG: principal.name,
    }
    started = datetime.now(UTC)
    try:
        run_id = context.dagster.launch(job, dagster_config, tags)
        status = context.dagster.status(run_id) or "QUEUED"
    except DagsterRunsError as error:
        log.warning("trigger of %s for %s failed: %s", job, day, error)
        raise DagsterUnavailable(f"Dagster did not launch the run: {error}") from None
    return TriggeredRun(
        id=run_id,
        job_type=job,
        business_date=day,
        config_id=row.config_id,
        started_at=started,
        status=status,
        dagster_run_url=context.dagster.run_url(run_id),
    )


def cancel(context: ApiContext, execution_id: str) -> ExecutionRow:
    """Terminate the execution's run through Dagster and close the execution CANCELLED.

    Chunks that committed stay (each is its own transaction); a re-run of the date redoes only
    what is missing or different, by the jobs' keys. The execution is closed here once Dagster
    reports the run ended (or after cancel_wait_seconds), unless something else (the run's
    cancel sensor, the next run's stale-execution check) closed it first.
    """
    principal = context.require_admin()
    with context.engine.connect() as conn:
        row = repository.get_execution(conn, execution_id)
    if row is None:
        raise NotFound(f"no execution {execution_id!r}")
    if row.status != "RUNNING":
        raise Conflict(f"execution {execution_id} is {row.status}, not RUNNING: there is nothing to cancel")
    run_id = run_id_of(execution_id)  # a ranged run's executions carry ids derived from its run's
    try:
        context.dagster.add_tags(run_id, {CANCELLED_BY_TAG: principal.name})
        context.dagster.terminate(run_id)
        deadline = time.monotonic() + context.cancel_wait_seconds
        while context.dagster.status(run_id) not in ENDED and time.monotonic() < deadline:
            time.sleep(CANCEL_POLL_SECONDS)
    except DagsterRunsError as error:
        raise DagsterUnavailable(f"Dagster did not terminate the run: {error}") from None
    database = DatabaseResource(url=context.engine.url.render_as_string(hide_password=False))
    fail_batch(database, execution_id, "CANCELLED", f"cancelled through the API by {principal.name}")
    with context.engine.connect() as conn:
        closed = repository.get_execution(conn, execution_id)
    assert closed is not None
    return closed

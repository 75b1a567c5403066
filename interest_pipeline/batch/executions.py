"""The execution tables: one `interest_batch_execution` row per date a Dagster run processes (a
single-date run's execution id is its run id; a ranged run's are derived from it, see
`ranged_execution_id`), its account results, and the latest status per (account, job type).

Each chunk adds its counts to the execution row in its own transaction, so the row always
matches the committed account results, whatever happens to the run afterwards; closing only
decides the final status.

The repository of these tables: its statements are SQLAlchemy Core over `db.tables`, run by
`db.core` on the caller's psycopg connection (inside a chunk's transaction when called from one)
and read into the row types below. Only the result and status writes of the chunk statements,
`account_results_insert` and `account_status_upsert`, are SQL text: they are CTE bodies of the
accrual's and posting's set-based statements.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from sqlalchemy import (
    Numeric,
    ScalarSelect,
    Text,
    bindparam,
    case,
    cast,
    func,
    insert,
    literal,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB

from interest_pipeline.batch.config import EffectiveConfig
from interest_pipeline.db import core
from interest_pipeline.db.tables import EXECUTION, RESULT
from interest_pipeline.domain.enums import ExecutionStatus, JobType

FINAL_STATUSES = tuple(s.value for s in ExecutionStatus if s is not ExecutionStatus.RUNNING)

# Error codes at the start of error_message for ends no step reported (grep-able, alertable).
RUN_WORKER_LOST = "RUN_WORKER_LOST"
TIMED_OUT = "TIMED_OUT"


# A ranged run (one Dagster run over several business dates) opens one execution per date and
# job type, with the id `<run id>~<job type>~<YYYY-MM-DD>`: distinct per date, and the run id is
# what precedes the first separator (Dagster run ids are UUIDs, without it).
RANGED_ID_SEPARATOR = "~"


def ranged_execution_id(run_id: str, job_type: str, business_date: date) -> str:
    """The execution id of `job_type` on `business_date` within the ranged run `run_id`."""
    return RANGED_ID_SEPARATOR.join((run_id, job_type, business_date.isoformat()))


def run_id_of(execution_id: str) -> str:
    """The Dagster run an execution belongs to: the id itself for a single-date run."""
    return execution_id.split(RANGED_ID_SEPARATOR, 1)[0]


def timed_out_message(timeout_seconds: int) -> str:
    return f"{TIMED_OUT}: ran over {timeout_seconds} s"


@dataclass(frozen=True)
class RunningExecution:
    """An execution still marked RUNNING, with the run worker that opened it."""

    id: str
    started_at: datetime
    worker_host: str | None
    worker_pid: int | None


@dataclass(frozen=True)
class ChunkTotals:
    """What one chunk did; amounts per currency are exact Decimals."""

    processed: int = 0
    succeeded: int = 0
    skipped: int = 0
    failed: int = 0
    changed: int = 0
    removed: int = 0
    amounts: Mapping[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class ExecutionRow:
    id: str
    job_type: str
    business_date: date
    trigger: str
    status: str
    parameters: Mapping[str, Any]
    account_ids: list[int] | None
    account_types: list[str]
    include_dormant: bool
    total_chunks: int
    chunks_completed: int
    accounts_processed: int
    accounts_succeeded: int
    accounts_skipped: int
    accounts_failed: int
    totals_by_currency: Mapping[str, str]
    """Exact decimal strings per currency; there is no cross-currency total."""
    started_at: datetime
    completed_at: datetime | None
    error_message: str | None
    worker_host: str | None = None
    worker_pid: int | None = None


# The row's columns are its fields' names (the API's repository selects the same ones).
EXECUTION_COLUMNS = core.columns_of(EXECUTION, ExecutionRow)


def open_execution(
    conn: psycopg.Connection,
    *,
    execution_id: str,
    business_date: date,
    trigger: str,
    config: EffectiveConfig,
    total_chunks: int,
    extra_parameters: Mapping[str, Any] | None = None,
    worker_host: str | None = None,
    worker_pid: int | None = None,
) -> None:
    """Record the run as RUNNING with its scope in the columns completeness checks read,
    and the run worker (host, pid) a later run checks before closing it as lost."""
    core.execute(
        conn,
        insert(EXECUTION).values(
            id=execution_id,
            job_type=config.job_type,
            business_date=business_date,
            trigger=trigger,
            status=ExecutionStatus.RUNNING,
            parameters={**config.parameters(), **(extra_parameters or {})},
            account_ids=list(config.account_ids) if config.account_ids is not None else None,
            account_types=list(config.account_types),
            include_dormant=config.include_dormant,
            total_chunks=total_chunks,
            worker_host=worker_host,
            worker_pid=worker_pid,
        ),
    )


def _merged_totals(amounts: Mapping[str, Decimal]) -> ScalarSelect[Any]:
    """The execution's totals_by_currency with `amounts` added, summed as NUMERIC per currency."""
    stored = func.jsonb_each_text(EXECUTION.c.totals_by_currency).table_valued("key", "value")
    # Strings, never floats: JSON numbers would round-trip through binary floating point.
    added = func.jsonb_each_text(
        bindparam("amounts", {c: str(a) for c, a in amounts.items()}, type_=JSONB)
    ).table_valued("key", "value")
    parts = union_all(select(stored.c.key, stored.c.value), select(added.c.key, added.c.value)).subquery()
    summed = (
        select(parts.c.key, func.sum(cast(parts.c.value, Numeric)).label("amount"))
        .group_by(parts.c.key)
        .subquery()
    )
    return select(
        func.coalesce(
            func.jsonb_object_agg(summed.c.key, cast(summed.c.amount, Text)), cast(literal({}, JSONB), JSONB)
        )
    ).scalar_subquery()


def record_chunk(conn: psycopg.Connection, execution_id: str, totals: ChunkTotals) -> None:
    """Add a chunk's counts to its execution; call inside the chunk's transaction."""
    e = EXECUTION.c
    core.execute(
        conn,
        update(EXECUTION)
        .where(e.id == execution_id)
        .values(
            chunks_completed=e.chunks_completed + 1,
            accounts_processed=e.accounts_processed + totals.processed,
            accounts_succeeded=e.accounts_succeeded + totals.succeeded,
            accounts_skipped=e.accounts_skipped + totals.skipped,
            accounts_failed=e.accounts_failed + totals.failed,
            totals_by_currency=_merged_totals(totals.amounts),
        ),
    )


def close_execution(
    conn: psycopg.Connection,
    execution_id: str,
    *,
    status: str | None = None,
    error_message: str | None = None,
) -> ExecutionRow | None:
    """Finish a RUNNING execution; None when there is none (already closed, or never opened).

    Without an explicit status: FAILED when a chunk did not complete, PARTIAL when some
    accounts failed, else SUCCESS.
    """
    if status is not None and status not in FINAL_STATUSES:
        raise ValueError(f"not a final execution status: {status!r}")
    e = EXECUTION.c
    derived = case(
        (e.chunks_completed < e.total_chunks, ExecutionStatus.FAILED.value),
        (e.accounts_failed > 0, ExecutionStatus.PARTIAL.value),
        else_=ExecutionStatus.SUCCESS.value,
    )
    return core.fetch_one(
        conn,
        update(EXECUTION)
        .where(e.id == execution_id, e.status == ExecutionStatus.RUNNING)
        .values(
            status=literal(status, Text) if status is not None else derived,
            completed_at=func.clock_timestamp(),
            error_message=func.coalesce(literal(error_message, Text), e.error_message),
        )
        .returning(*EXECUTION_COLUMNS),
        ExecutionRow,
    )


def read_execution(conn: psycopg.Connection, execution_id: str) -> ExecutionRow | None:
    return core.fetch_one(
        conn, select(*EXECUTION_COLUMNS).where(EXECUTION.c.id == execution_id), ExecutionRow
    )


def executions_of_run(conn: psycopg.Connection, run_id: str) -> list[ExecutionRow]:
    """Every execution the Dagster run `run_id` opened, in the order it opened them: the one of a
    single-date run, or one per date and job type of a ranged run."""
    e = EXECUTION.c
    return core.fetch_all(
        conn,
        select(*EXECUTION_COLUMNS)
        .where((e.id == run_id) | e.id.startswith(run_id + RANGED_ID_SEPARATOR, autoescape=True))
        .order_by(e.started_at, e.id),
        ExecutionRow,
    )


def running_executions(conn: psycopg.Connection, job_type: str) -> list[RunningExecution]:
    """The job's executions still marked RUNNING, oldest first."""
    e = EXECUTION.c
    return core.fetch_all(
        conn,
        select(*core.columns_of(EXECUTION, RunningExecution))
        .where(e.job_type == job_type, e.status == ExecutionStatus.RUNNING)
        .order_by(e.started_at),
        RunningExecution,
    )


def claim_alert(conn: psycopg.Connection, execution_id: str) -> bool:
    """Mark the execution's end as alerted; False when it was already (or is not closed yet).

    The run-outcome sensor and the CLI launcher both see a run end; this makes one of them send.
    """
    e = EXECUTION.c
    claimed = core.execute(
        conn,
        update(EXECUTION)
        .where(e.id == execution_id, e.alerted_at.is_(None), e.status != ExecutionStatus.RUNNING)
        .values(alerted_at=func.clock_timestamp()),
    )
    return claimed == 1


def seconds_left(conn: psycopg.Connection, execution_id: str, timeout_seconds: int) -> float | None:
    """Seconds until the execution's deadline (started_at + timeout_seconds; negative once past),
    None when there is no such execution."""
    e = EXECUTION.c
    left = core.fetch_value(
        conn,
        select(
            func.extract("epoch", e.started_at + func.make_interval(0, 0, 0, 0, 0, 0, timeout_seconds))
            - func.extract("epoch", func.clock_timestamp())
        ).where(e.id == execution_id),
    )
    return float(left) if left is not None else None


@dataclass(frozen=True)
class FinishedExecution:
    id: str
    business_date: date


def latest_finished_execution(conn: psycopg.Connection, job_type: str) -> FinishedExecution | None:
    """The job's SUCCESS or PARTIAL execution of the latest business date (latest completed first)."""
    e = EXECUTION.c
    return core.fetch_one(
        conn,
        select(e.id, e.business_date)
        .where(e.job_type == job_type, e.status.in_([ExecutionStatus.SUCCESS, ExecutionStatus.PARTIAL]))
        .order_by(e.business_date.desc(), e.completed_at.desc())
        .limit(1),
        FinishedExecution,
    )


def count_results(conn: psycopg.Connection, execution_id: str, reason_like: str) -> int:
    """The execution's account results whose reason matches the LIKE pattern."""
    r = RESULT.c
    return int(
        core.fetch_value(
            conn,
            select(func.count())
            .select_from(RESULT)
            .where(r.execution_id == execution_id, r.reason.like(reason_like)),
        )
    )


def account_results_insert(job_type: str, source: str) -> str:
    """`INSERT INTO interest_batch_account_result` from a CTE named `source`, as a CTE body.

    `source` must have: account_id, result_status, amount, previous_amount, currency, reason,
    error_message; the statement binds %(execution_id)s and %(business_date)s. Rows go in
    account order. processing_time_ms is the statement's time per row, not the account's own:
    the statement's elapsed time when it writes the row (after `source` is complete, which the
    window count needs) divided by the number of rows it writes (db.models.PROCESSING_TIME_COMMENT).
    """
    return f"""
        INSERT INTO interest_batch_account_result
            (execution_id, job_type, business_date, account_id, status, amount, previous_amount,
             currency, reason, error_message, processing_time_ms)
        SELECT %(execution_id)s, '{job_type}', %(business_date)s::date, s.account_id, s.result_status,
               s.amount, s.previous_amount, s.currency, s.reason, s.error_message,
               round(1000 * extract(epoch FROM clock_timestamp() - statement_timestamp())
                     / count(*) OVER (), 3)
          FROM {source} s
         ORDER BY s.account_id
        RETURNING status, amount, previous_amount, currency
    """


def account_results_of(job_type: str, account: str, day: str) -> str:
    """SQL: the rows of interest_batch_account_result of `job_type` for the SQL expressions
    `account` and `day`, by an indexed path (migration 0014 dropped the per-account index).

    A posting's through the partial index of posting results; an accrual's through that date's
    accrual executions and the primary key (an accrual run writes results of its own date only).
    Its own aliases are x and x_e: `account` and `day` may name the caller's columns under any
    other alias (under x they would name these rows, and match every one).
    """
    if job_type == JobType.INTEREST_POSTING:
        return f"""
        SELECT x.* FROM interest_batch_account_result x
         WHERE x.job_type = '{job_type}' AND x.account_id = {account} AND x.business_date = {day}"""
    return f"""
        SELECT x.* FROM interest_batch_execution x_e
          JOIN interest_batch_account_result x
            ON x.execution_id = x_e.id AND x.account_id = {account} AND x.business_date = {day}
         WHERE x_e.job_type = '{job_type}' AND x_e.business_date = {day} AND x.job_type = '{job_type}'"""


def account_status_upsert(job_type: str, source: str) -> str:
    """Upsert `interest_batch_account_status` from `source` (account_id, result_status, reason,
    error_message).

    A run for an older date than an account's latest never moves its status back; it only moves
    the account's first result date back when it is earlier (the posting's completeness check
    counts missing accrual dates from it).
    """
    newer = "st.last_business_date <= EXCLUDED.last_business_date"
    latest = {
        "last_business_date": "EXCLUDED.last_business_date",
        "last_status": "EXCLUDED.last_status",
        "last_execution_id": "EXCLUDED.last_execution_id",
        "last_success_date": "coalesce(EXCLUDED.last_success_date, st.last_success_date)",
        "consecutive_failures": """CASE
                WHEN EXCLUDED.last_status <> 'FAILED' THEN 0
                WHEN st.last_status <> 'FAILED' THEN 1
                -- a re-run of the same date is the same failure, not another one
                WHEN st.last_business_date = EXCLUDED.last_business_date THEN st.consecutive_failures
                ELSE st.consecutive_failures + 1 END""",
        "last_error": "EXCLUDED.last_error",
        "updated_at": "EXCLUDED.updated_at",
    }
    sets = ",\n            ".join(
        f"{column} = CASE WHEN {newer} THEN {value} ELSE st.{column} END" for column, value in latest.items()
    )
    return f"""
        INSERT INTO interest_batch_account_status AS st
            (account_id, job_type, first_business_date, last_business_date, last_status,
             last_execution_id, last_success_date, consecutive_failures, last_error, updated_at)
        SELECT s.account_id, '{job_type}', %(business_date)s::date, %(business_date)s::date,
               s.result_status, %(execution_id)s,
               CASE WHEN s.result_status = 'SUCCESS' THEN %(business_date)s::date END,
               CASE WHEN s.result_status = 'FAILED' THEN 1 ELSE 0 END,
               CASE WHEN s.result_status = 'FAILED' THEN coalesce(s.error_message, s.reason) END,
               now()
          FROM {source} s
         ORDER BY s.account_id
        ON CONFLICT (account_id, job_type) DO UPDATE SET
            first_business_date = least(st.first_business_date, EXCLUDED.first_business_date),
            {sets}
        WHERE {newer} OR st.first_business_date > EXCLUDED.first_business_date
    """

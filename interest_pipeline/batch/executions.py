"""The execution tables: one `interest_batch_execution` row per Dagster run (the run id is its key),
its account results, and the latest status per (account, job type).

Each chunk adds its counts to the execution row in its own transaction, so the row always
matches the committed account results, whatever happens to the run afterwards; closing only
decides the final status.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from interest_pipeline.batch.config import EffectiveConfig

FINAL_STATUSES = ("SUCCESS", "PARTIAL", "FAILED", "CANCELLED")

# Error codes at the start of error_message for ends no step reported (grep-able, alertable).
RUN_WORKER_LOST = "RUN_WORKER_LOST"
TIMED_OUT = "TIMED_OUT"


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


# The row's columns are its fields' names (the API's repository selects them by the same rule).
EXECUTION_COLUMNS = ", ".join(f.name for f in fields(ExecutionRow))


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
    conn.execute(
        """
        INSERT INTO interest_batch_execution
            (id, job_type, business_date, trigger, status, parameters, account_ids, account_types,
             include_dormant, total_chunks, worker_host, worker_pid)
        VALUES (%s, %s, %s, %s, 'RUNNING', %s, %s, %s, %s, %s, %s, %s)
        """,
        (
            execution_id,
            config.job_type,
            business_date,
            trigger,
            Jsonb({**config.parameters(), **(extra_parameters or {})}),
            list(config.account_ids) if config.account_ids is not None else None,
            list(config.account_types),
            config.include_dormant,
            total_chunks,
            worker_host,
            worker_pid,
        ),
    )


def record_chunk(conn: psycopg.Connection, execution_id: str, totals: ChunkTotals) -> None:
    """Add a chunk's counts to its execution; call inside the chunk's transaction."""
    conn.execute(
        """
        UPDATE interest_batch_execution e SET
            chunks_completed = e.chunks_completed + 1,
            accounts_processed = e.accounts_processed + %(processed)s,
            accounts_succeeded = e.accounts_succeeded + %(succeeded)s,
            accounts_skipped = e.accounts_skipped + %(skipped)s,
            accounts_failed = e.accounts_failed + %(failed)s,
            totals_by_currency = (
                SELECT coalesce(jsonb_object_agg(currency, amount::text), '{}'::jsonb)
                  FROM (SELECT currency, sum(amount::numeric) AS amount
                          FROM (SELECT key AS currency, value #>> '{}' AS amount
                                  FROM jsonb_each(e.totals_by_currency)
                                UNION ALL
                                SELECT key, value #>> '{}' FROM jsonb_each(%(amounts)s::jsonb)) parts
                         GROUP BY currency) summed)
        WHERE e.id = %(id)s
        """,
        {
            "id": execution_id,
            "processed": totals.processed,
            "succeeded": totals.succeeded,
            "skipped": totals.skipped,
            "failed": totals.failed,
            # Strings, never floats: JSON numbers would round-trip through binary floating point.
            "amounts": json.dumps({c: str(a) for c, a in totals.amounts.items()}),
        },
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
    row = conn.execute(
        """
        UPDATE interest_batch_execution SET
            status = coalesce(%(status)s,
                              CASE WHEN chunks_completed < total_chunks THEN 'FAILED'
                                   WHEN accounts_failed > 0 THEN 'PARTIAL'
                                   ELSE 'SUCCESS' END),
            completed_at = clock_timestamp(),
            error_message = coalesce(%(error)s, error_message)
        WHERE id = %(id)s AND status = 'RUNNING'
        RETURNING id
        """,
        {"id": execution_id, "status": status, "error": error_message},
    ).fetchone()
    return read_execution(conn, execution_id) if row else None


def read_execution(conn: psycopg.Connection, execution_id: str) -> ExecutionRow | None:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            f"SELECT {EXECUTION_COLUMNS} FROM interest_batch_execution WHERE id = %s", (execution_id,)
        ).fetchone()
    return ExecutionRow(**row) if row else None


def running_executions(conn: psycopg.Connection, job_type: str) -> list[RunningExecution]:
    """The job's executions still marked RUNNING, oldest first."""
    rows = conn.execute(
        "SELECT id, started_at, worker_host, worker_pid FROM interest_batch_execution"
        " WHERE job_type = %s AND status = 'RUNNING' ORDER BY started_at",
        (job_type,),
    ).fetchall()
    return [RunningExecution(*r) for r in rows]


def claim_alert(conn: psycopg.Connection, execution_id: str) -> bool:
    """Mark the execution's end as alerted; False when it was already (or is not closed yet).

    The run-outcome sensor and the CLI launcher both see a run end; this makes one of them send.
    """
    row = conn.execute(
        "UPDATE interest_batch_execution SET alerted_at = clock_timestamp()"
        " WHERE id = %s AND alerted_at IS NULL AND status <> 'RUNNING' RETURNING id",
        (execution_id,),
    ).fetchone()
    return row is not None


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


def account_status_upsert(job_type: str, source: str) -> str:
    """Upsert `interest_batch_account_status` from `source` (account_id, result_status, reason,
    error_message).

    A run for an older date than an account's latest never moves its status back.
    """
    return f"""
        INSERT INTO interest_batch_account_status AS st
            (account_id, job_type, last_business_date, last_status, last_execution_id,
             last_success_date, consecutive_failures, last_error, updated_at)
        SELECT s.account_id, '{job_type}', %(business_date)s::date, s.result_status, %(execution_id)s,
               CASE WHEN s.result_status = 'SUCCESS' THEN %(business_date)s::date END,
               CASE WHEN s.result_status = 'FAILED' THEN 1 ELSE 0 END,
               CASE WHEN s.result_status = 'FAILED' THEN coalesce(s.error_message, s.reason) END,
               now()
          FROM {source} s
         ORDER BY s.account_id
        ON CONFLICT (account_id, job_type) DO UPDATE SET
            last_business_date = EXCLUDED.last_business_date,
            last_status = EXCLUDED.last_status,
            last_execution_id = EXCLUDED.last_execution_id,
            last_success_date = coalesce(EXCLUDED.last_success_date, st.last_success_date),
            consecutive_failures = CASE
                WHEN EXCLUDED.last_status <> 'FAILED' THEN 0
                WHEN st.last_status <> 'FAILED' THEN 1
                -- a re-run of the same date is the same failure, not another one
                WHEN st.last_business_date = EXCLUDED.last_business_date THEN st.consecutive_failures
                ELSE st.consecutive_failures + 1 END,
            last_error = EXCLUDED.last_error,
            updated_at = EXCLUDED.updated_at
        WHERE st.last_business_date <= EXCLUDED.last_business_date
    """

"""A batch run's life in the execution tables, for any job type: start, one chunk, finish.

Dagster-free on purpose: the ops call these with a database resource, and tests can too.
"""

import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import psycopg

from interest_pipeline.batch.chunks import Chunk, ChunkTask, plan_chunks
from interest_pipeline.batch.config import BatchRunConfig, EffectiveConfig, load_job_config, merge_config
from interest_pipeline.batch.executions import (
    ChunkTotals,
    ExecutionRow,
    close_execution,
    open_execution,
    record_chunk,
    running_executions,
)
from interest_pipeline.resources.database import DatabaseResource

# What the orchestrator knows of a run: 'RUNNING', 'SUCCESS', 'FAILED', 'CANCELLED', or None (unknown).
RunState = Callable[[str], str | None]
ChunkWork = Callable[[psycopg.Connection, ChunkTask], ChunkTotals]
# Splits a job's scope into chunks; the default takes every account, posting only the due ones.
ChunkPlanner = Callable[[psycopg.Connection, EffectiveConfig], list[Chunk]]

SLOT_POLL_SECONDS = 0.05


def start_batch(
    database: DatabaseResource,
    *,
    job_type: str,
    run_id: str,
    business_date: date,
    trigger: str,
    run_config: BatchRunConfig,
    run_state: RunState,
    planner: ChunkPlanner = plan_chunks,
) -> list[ChunkTask]:
    """Validate, close what earlier runs left RUNNING, plan the chunks and record the execution.

    Validation comes first and raises BatchConfigError before any write.
    """
    with database.connect() as conn:
        config = merge_config(load_job_config(conn, job_type, run_config.config_id), run_config)
        close_stale_executions(
            conn, job_type, run_state, exclude=run_id, timeout_seconds=config.timeout_seconds
        )
        chunks = planner(conn, config)
        open_execution(
            conn,
            execution_id=run_id,
            business_date=business_date,
            trigger=trigger,
            config=config,
            total_chunks=len(chunks),
            extra_parameters={"chunk_order": [c.index for c in chunks]},
        )
    return [
        ChunkTask(execution_id=run_id, business_date=business_date, config=config, chunk=chunk)
        for chunk in chunks
    ]


def close_stale_executions(
    conn: psycopg.Connection,
    job_type: str,
    run_state: RunState,
    *,
    exclude: str,
    timeout_seconds: int,
) -> list[str]:
    """Close executions left RUNNING by runs that ended without closing them (crash, kill, cancel).

    A run the orchestrator does not know (another Dagster instance) is left alone until it is
    older than the job's timeout.
    """
    closed = []
    deadline = datetime.now(UTC) - timedelta(seconds=timeout_seconds)
    for execution_id, started_at in running_executions(conn, job_type):
        if execution_id == exclude:
            continue
        state = run_state(execution_id)
        if state == "RUNNING":
            continue
        if state is None and started_at > deadline:
            continue
        if state is None:
            status, message = "FAILED", f"still RUNNING after the job's timeout of {timeout_seconds} s"
        elif state == "SUCCESS":
            status, message = None, None
        else:
            status, message = state, f"the Dagster run ended {state} without closing its execution"
        if close_execution(conn, execution_id, status=status, error_message=message):
            closed.append(execution_id)
    return closed


def acquire_slot(conn: psycopg.Connection, execution_id: str, slots: int) -> int:
    """Wait for one of the run's `slots` chunk slots (transaction-scoped advisory locks).

    This is what makes the config row's parallel_threads bound the chunks running at once,
    whichever executor runs the steps.
    """
    while True:
        for slot in range(slots):
            got = conn.execute(
                "SELECT pg_try_advisory_xact_lock(hashtext(%s), %s)", (f"slot:{execution_id}", slot)
            ).fetchone()
            if got and got[0]:
                return slot
        time.sleep(SLOT_POLL_SECONDS)


def tune_chunk_transaction(conn: psycopg.Connection) -> None:
    """Session settings for one chunk's transaction only (SET LOCAL), measured at 1M accounts.

    JIT compiling a chunk statement took ~70 ms of its ~1.5 s and is redone for every chunk;
    the statement's sorts of ~50,000 rows (a few MB) spilled to disk at the default 4 MB work_mem.
    """
    conn.execute("SET LOCAL jit = off")
    conn.execute("SET LOCAL work_mem = '64MB'")


def run_chunk(database: DatabaseResource, task: ChunkTask, work: ChunkWork) -> ChunkTotals:
    """One chunk in ONE transaction: its rows and its share of the execution's counts commit together."""
    with database.connect() as conn:
        acquire_slot(conn, task.execution_id, task.config.parallel_threads)
        tune_chunk_transaction(conn)
        totals = work(conn, task)
        record_chunk(conn, task.execution_id, totals)
    return totals


def finish_batch(database: DatabaseResource, run_id: str) -> ExecutionRow:
    with database.connect() as conn:
        row = close_execution(conn, run_id)
    if row is None:
        raise RuntimeError(f"execution {run_id} is no longer RUNNING: something else closed it")
    return row


def fail_batch(
    database: DatabaseResource, run_id: str, status: str, message: str | None
) -> ExecutionRow | None:
    """Close the run's execution as FAILED or CANCELLED; None if it was not RUNNING (or never opened)."""
    with database.connect() as conn:
        return close_execution(conn, run_id, status=status, error_message=message)

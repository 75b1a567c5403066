"""A batch run's life in the execution tables, for any job type: start, one chunk, finish.

Dagster-free on purpose: the ops call these with a database resource, and tests can too.
"""

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import errors

from interest_pipeline.batch.chunks import Chunk, ChunkTask, plan_chunks
from interest_pipeline.batch.config import BatchRunConfig, EffectiveConfig, load_job_config, merge_config
from interest_pipeline.batch.executions import (
    RUN_WORKER_LOST,
    ChunkTotals,
    ExecutionRow,
    close_execution,
    executions_of_run,
    open_execution,
    record_chunk,
    run_id_of,
    running_executions,
    timed_out_message,
)
from interest_pipeline.batch.executions import seconds_left as execution_seconds_left
from interest_pipeline.data.statistics import refresh_stale_statistics
from interest_pipeline.db.partitions import ensure_partitions_for
from interest_pipeline.resources.database import DatabaseResource

# What the orchestrator knows of a run: 'RUNNING', 'SUCCESS', 'FAILED', 'CANCELLED', or None (unknown).
RunState = Callable[[str], str | None]
ChunkWork = Callable[[psycopg.Connection, ChunkTask], ChunkTotals]
# Splits a job's scope into chunks; the default takes every account, posting only the due ones.
ChunkPlanner = Callable[[psycopg.Connection, EffectiveConfig], list[Chunk]]

# Tells the orchestrator that a run whose worker is gone has failed (Dagster would call it STARTED
# forever, holding a slot of the run queue); called after its execution row is closed.
MarkRunFailed = Callable[[str, str], None]

SLOT_POLL_SECONDS = 0.05

# SQLSTATEs after which the same chunk, re-run from the start, can succeed: the chunk is one
# transaction, so the failed attempt left nothing behind. Serialization failure, deadlock, lock
# not available (lock_timeout), the server shutting the session down (pg_terminate_backend is
# 57P01), and the whole connection-exception class 08.
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03", "57P01", "57P02", "57P03"})


@dataclass(frozen=True)
class Worker:
    """The process a run's execution belongs to: a later run may close its row once it is gone."""

    host: str
    pid: int


class RunTimedOut(RuntimeError):
    """The run went past its config row's timeout_seconds; not retried, the run is ended."""


def is_transient(error: BaseException) -> bool:
    """Whether a chunk that raised `error` should be tried again (config row's max_retries).

    Deterministic errors (constraints, bad data, a bug) would fail the same way again; a query
    canceled by our own statement_timeout is the run's timeout, not a glitch.
    """
    if not isinstance(error, psycopg.OperationalError) or isinstance(error, errors.QueryCanceled):
        return False
    state = error.sqlstate
    # No SQLSTATE: the client lost the connection ("server closed the connection unexpectedly").
    return state is None or state in TRANSIENT_SQLSTATES or state.startswith("08")


def this_worker() -> Worker:
    return Worker(host=socket.gethostname(), pid=os.getpid())


def process_alive(pid: int) -> bool:
    """Signal 0 reaches it and it is not a zombie (an exited child its parent has not reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def worker_alive(host: str | None, pid: int | None) -> bool:
    """False only when the worker was on this host and its process is gone (or a zombie).

    A worker on another host, or one never recorded, is taken as alive: only run monitoring
    (the daemon) or the job's timeout can close its execution.
    """
    if host is None or pid is None or host != socket.gethostname():
        return True
    return process_alive(pid)


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
    worker: Worker | None = None,
    mark_run_failed: MarkRunFailed | None = None,
    execution_id: str | None = None,
) -> list[ChunkTask]:
    """Validate, close what earlier runs left RUNNING, plan the chunks and record the execution.

    The execution's id is `execution_id`, by default the run id (a single-date run); a ranged
    run gives each of its dates its own (executions.ranged_execution_id).
    Validation comes first and raises BatchConfigError before any write. Then the planner
    statistics of the tables the run reads are refreshed where they have drifted
    (data.statistics.refresh_stale_statistics).
    """
    execution_id = execution_id or run_id
    with database.connect() as conn:
        config = merge_config(load_job_config(conn, job_type, run_config.config_id), run_config)
        # The accruals' month partitions of this date and the next month, in a transaction of
        # their own: a partition is created once a month and holds a lock on the table only while
        # it is (db/partitions.py); every job does it, so no month arrives without one.
        ensure_partitions_for(conn, business_date)
        conn.commit()
        # Before the chunk plan and every chunk statement are planned on them (after validation:
        # a bad config fails before anything is done).
        refresh_stale_statistics(conn)
        closed = close_stale_executions(
            conn, job_type, run_state, exclude=execution_id, timeout_seconds=config.timeout_seconds
        )
        # Planned as a chunk is (no JIT): the posting's plan reads the same per-account probes,
        # whose estimates grow with the book until JIT compiling cost seconds of a 0.2 s statement.
        tune_chunk_transaction(conn)
        chunks = planner(conn, config)
        open_execution(
            conn,
            execution_id=execution_id,
            business_date=business_date,
            trigger=trigger,
            config=config,
            total_chunks=len(chunks),
            extra_parameters={"chunk_order": [c.index for c in chunks]},
            worker_host=worker.host if worker else None,
            worker_pid=worker.pid if worker else None,
        )
    if mark_run_failed is not None:
        # After the commit: the rows are closed whether or not the orchestrator hears of it.
        for closed_id, message in closed.items():
            closed_run = run_id_of(closed_id)
            if message and message.startswith(RUN_WORKER_LOST) and run_state(closed_run) == "RUNNING":
                mark_run_failed(closed_run, message)
    return [
        ChunkTask(execution_id=execution_id, business_date=business_date, config=config, chunk=chunk)
        for chunk in chunks
    ]


def close_stale_executions(
    conn: psycopg.Connection,
    job_type: str,
    run_state: RunState,
    *,
    exclude: str,
    timeout_seconds: int,
) -> dict[str, str | None]:
    """Close executions left RUNNING by runs that ended without closing them (crash, kill, cancel).

    This is the closer of abnormal ends when no daemon runs (the CLI alone). A run the
    orchestrator still calls RUNNING is closed only when its worker was on this host and is
    gone (RUN_WORKER_LOST); one the orchestrator does not know (another Dagster instance) is left
    alone until it is older than the job's timeout. Returns {execution id: error message} of the
    rows it closed; those whose message starts RUN_WORKER_LOST are runs Dagster still calls
    started, which the caller then marks failed. The orchestrator is asked about each row's
    run (executions.run_id_of: a ranged run's executions carry derived ids).
    """
    closed: dict[str, str | None] = {}
    deadline = datetime.now(UTC) - timedelta(seconds=timeout_seconds)
    for running in running_executions(conn, job_type):
        if running.id == exclude:
            continue
        state = run_state(run_id_of(running.id))
        worker_gone = not worker_alive(running.worker_host, running.worker_pid)
        if state == "RUNNING" and not worker_gone:
            continue
        if state is None and not worker_gone and running.started_at > deadline:
            continue
        if state in ("RUNNING", None) and worker_gone:
            status, message = (
                "FAILED",
                f"{RUN_WORKER_LOST}: run worker {running.worker_host}:{running.worker_pid} is gone",
            )
        elif state is None:
            status, message = "FAILED", f"still RUNNING after the job's timeout of {timeout_seconds} s"
        elif state == "SUCCESS":
            status, message = None, None
        else:
            status, message = state, f"the Dagster run ended {state} without closing its execution"
        if close_execution(conn, running.id, status=status, error_message=message):
            closed[running.id] = message
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


def seconds_left(conn: psycopg.Connection, task: ChunkTask) -> float:
    """What is left of the run's timeout_seconds, counted from when its execution opened."""
    left = execution_seconds_left(conn, task.execution_id, task.config.timeout_seconds)
    return left if left is not None else float(task.config.timeout_seconds)


def bound_by_timeout(conn: psycopg.Connection, task: ChunkTask) -> None:
    """End the chunk, and so the run, at the run's deadline: statement_timeout is what is left.

    This enforces timeout_seconds in the run itself, so CLI runs (no daemon, no run monitoring)
    stop too; with a daemon, run monitoring's dagster/max_runtime ends a run stuck elsewhere.
    """
    left = seconds_left(conn, task)
    if left <= 0:
        raise RunTimedOut(timed_out_message(task.config.timeout_seconds))
    conn.execute(f"SET LOCAL statement_timeout = {max(1, int(left * 1000))}")


def run_chunk(database: DatabaseResource, task: ChunkTask, work: ChunkWork) -> ChunkTotals:
    """One chunk in ONE transaction: its rows and its share of the execution's counts commit together.

    Ended with RunTimedOut when the run's timeout passes before or while it runs.
    """
    try:
        with database.connect() as conn:
            bound_by_timeout(conn, task)
            acquire_slot(conn, task.execution_id, task.config.parallel_threads)
            tune_chunk_transaction(conn)
            totals = work(conn, task)
            record_chunk(conn, task.execution_id, totals)
    except errors.QueryCanceled as error:
        if "statement timeout" not in str(error):
            raise
        raise RunTimedOut(timed_out_message(task.config.timeout_seconds)) from error
    return totals


def finish_batch(database: DatabaseResource, run_id: str) -> ExecutionRow:
    with database.connect() as conn:
        row = close_execution(conn, run_id)
    if row is None:
        raise RuntimeError(f"execution {run_id} is no longer RUNNING: something else closed it")
    return row


def fail_run(database: DatabaseResource, run_id: str, status: str, message: str | None) -> list[ExecutionRow]:
    """Close every execution the run `run_id` still has RUNNING (a ranged run has at most one open
    at a time) as FAILED or CANCELLED; the rows closed."""
    with database.connect() as conn:
        running = [row.id for row in executions_of_run(conn, run_id) if row.status == "RUNNING"]
        closed = [close_execution(conn, i, status=status, error_message=message) for i in running]
    return [row for row in closed if row is not None]


def fail_batch(
    database: DatabaseResource, run_id: str, status: str, message: str | None
) -> ExecutionRow | None:
    """Close the run's execution as FAILED or CANCELLED; None if it was not RUNNING (or never opened)."""
    with database.connect() as conn:
        return close_execution(conn, run_id, status=status, error_message=message)

"""A posting run's life without Dagster: the ops call these, and so do the tests and the benchmark.

The batch framework's lifecycle is reused as it is, except for planning: posting chunks only
the accounts due on P or owing a posting of an earlier date (see `sql.plan_chunks`).
"""

import uuid
from collections.abc import Callable
from datetime import date

import psycopg

from interest_pipeline.batch.chunks import ChunkTask
from interest_pipeline.batch.config import BatchRunConfig
from interest_pipeline.batch.executions import ExecutionRow
from interest_pipeline.batch.lifecycle import (
    MarkRunFailed,
    RunState,
    Worker,
    finish_batch,
    run_chunk,
    start_batch,
)
from interest_pipeline.posting import sql
from interest_pipeline.resources.database import DatabaseResource


def start_posting(
    database: DatabaseResource,
    *,
    run_id: str,
    business_date: date,
    trigger: str,
    run_config: BatchRunConfig,
    run_state: RunState,
    worker: Worker | None = None,
    mark_run_failed: MarkRunFailed | None = None,
    execution_id: str | None = None,
) -> list[ChunkTask]:
    """Validate, close what earlier runs left RUNNING, plan the due or owing accounts, record RUNNING
    (as `execution_id`, by default the run id: see batch.lifecycle.start_batch)."""
    return start_batch(
        database,
        job_type=sql.JOB_TYPE,
        run_id=run_id,
        business_date=business_date,
        trigger=trigger,
        run_config=run_config,
        run_state=run_state,
        planner=lambda conn, config: sql.plan_chunks(conn, business_date, config),
        worker=worker,
        mark_run_failed=mark_run_failed,
        execution_id=execution_id,
    )


def post_task(database: DatabaseResource, task: ChunkTask, ledger: sql.Ledger) -> sql.PostingChunkTotals:
    """One chunk in one transaction, its share of the execution's counts included."""

    def work(conn: psycopg.Connection, t: ChunkTask) -> sql.PostingChunkTotals:
        return sql.post_chunk(conn, t, ledger)

    totals = run_chunk(database, task, work)
    assert isinstance(totals, sql.PostingChunkTotals)
    return totals


def unknown_run(_run_id: str) -> str | None:
    return None


def post_business_date(
    database: DatabaseResource,
    business_date: date,
    ledger: sql.Ledger,
    *,
    run_config: BatchRunConfig | None = None,
    run_id: str | None = None,
    trigger: str = "MANUAL",
    run_state: RunState = unknown_run,
    on_chunk: Callable[[sql.PostingChunkTotals], None] | None = None,
) -> ExecutionRow:
    """Post P chunk by chunk, in order, exactly as the job's ops do, but in this process."""
    run_id = run_id or f"posting-{uuid.uuid4()}"
    tasks = start_posting(
        database,
        run_id=run_id,
        business_date=business_date,
        trigger=trigger,
        run_config=run_config or BatchRunConfig(),
        run_state=run_state,
    )
    for task in tasks:
        totals = post_task(database, task, ledger)
        if on_chunk:
            on_chunk(totals)
    return finish_batch(database, run_id)

"""The ranged run's op: for each business date of the run's partition range, in order, each job
type it was given (accrual, then posting), exactly as a single-date run of that job does it.

A single-date run costs ~2-3 s of fixed Dagster work (run start, plan, a step process per chunk,
events) whatever the book; a small book's date needs a fraction of that in SQL. One run over the
range pays the fixed cost once. What a date writes is the same as its single-date run's: its own
execution row (id `<run id>~<job type>~<date>`, executions.ranged_execution_id), its chunks each
in one transaction through batch.lifecycle.run_chunk (same statements, same counts), its close
and its reconciliation checks (logged on the run as asset check evaluations; the close ops'
per-currency tables and month report are run metadata and are not made). Chunks run one
after another in this process, a failed one not stopping the others (as chunk steps); transient
errors are retried here, per chunk, as the config row says (a Dagster retry would restart the
whole range).

The first date that fails fails the run: the failure hook closes that date's execution FAILED
with the error, as for a single-date run, and no later date is started. The posting of P starts
only after the accrual of P has closed (the order of `job_types`).
"""

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from datetime import date, timedelta
from functools import partial
from typing import Any, TypeVar

import dagster as dg
from pydantic import Field

from interest_pipeline.accrual import sql as accrual_sql
from interest_pipeline.batch.chunks import ChunkTask
from interest_pipeline.batch.config import BatchRunConfig
from interest_pipeline.batch.executions import ExecutionRow, ranged_execution_id
from interest_pipeline.batch.lifecycle import finish_batch, is_transient, run_chunk, start_batch
from interest_pipeline.batch.orchestration import run_facts_of_range
from interest_pipeline.checks.dagster_checks import report_checks, run_checks
from interest_pipeline.posting import sql as posting_sql
from interest_pipeline.posting.lifecycle import post_task, start_posting
from interest_pipeline.reporting.run_tables import metadata_table
from interest_pipeline.resources.database import DatabaseResource, SessionDatabaseResource
from interest_pipeline.resources.ledger import LedgerResource

ACCRUAL = accrual_sql.JOB_TYPE
POSTING = posting_sql.JOB_TYPE
OP_NAME = "run_dates"

T = TypeVar("T")


class RangedRunConfig(dg.Config):
    """Which job types each date runs, in this order, and each one's per-run overrides (what its
    plan op's config would be in a single-date run)."""

    job_types: list[str] = Field(default_factory=lambda: [ACCRUAL, POSTING])
    accrual: BatchRunConfig = Field(default_factory=BatchRunConfig)
    posting: BatchRunConfig = Field(default_factory=BatchRunConfig)


def range_dates(context: dg.OpExecutionContext) -> Iterator[date]:
    """The run's business dates: its partition key range (a single key is a range of one)."""
    keys = context.partition_key_range
    day, last = date.fromisoformat(keys.start), date.fromisoformat(keys.end)
    while day <= last:
        yield day
        day += timedelta(days=1)


def with_retries(context: dg.OpExecutionContext, task: ChunkTask, call: Callable[[], T]) -> T:
    """A chunk, tried again after a transient database error (config row's max_retries,
    retry_interval_seconds): exact, because the failed attempt committed nothing."""
    attempt = 0
    while True:
        try:
            return call()
        except Exception as error:
            if not is_transient(error) or attempt >= task.config.max_retries:
                raise
            attempt += 1
            context.log.warning(
                f"{task.business_date} chunk {task.chunk.mapping_key}: transient {type(error).__name__} "
                f"({error}); attempt {attempt + 1} of {task.config.max_retries + 1}"
            )
            time.sleep(task.config.retry_interval_seconds)


def run_chunks(
    context: dg.OpExecutionContext, tasks: list[ChunkTask], call: Callable[[ChunkTask], Any]
) -> None:
    """Every chunk of the date, in order, as a single-date run's executor would run its chunk steps:
    a chunk that fails does not stop the others (each is its own transaction); the first failure
    is raised once they have all run, which fails the date (and the run) as its chunk step would."""
    first: Exception | None = None
    for task in tasks:
        try:
            with_retries(context, task, partial(call, task))
        except Exception as error:
            context.log.error(f"{task.business_date} chunk {task.chunk.mapping_key} failed: {error}")
            first = first or error
    if first is not None:
        raise first


def accrue_date(
    context: dg.OpExecutionContext, database: DatabaseResource, config: BatchRunConfig, day: date
) -> ExecutionRow:
    execution_id = ranged_execution_id(context.run_id, ACCRUAL, day)
    tasks = start_batch(
        database,
        job_type=ACCRUAL,
        run_config=config,
        business_date=day,
        execution_id=execution_id,
        **run_facts_of_range(context),
    )
    run_chunks(context, tasks, lambda task: run_chunk(database, task, accrual_sql.accrue_chunk))
    return finish_batch(database, execution_id)


def post_date(
    context: dg.OpExecutionContext,
    database: DatabaseResource,
    ledger: LedgerResource,
    config: BatchRunConfig,
    day: date,
) -> ExecutionRow:
    execution_id = ranged_execution_id(context.run_id, POSTING, day)
    tasks = start_posting(
        database,
        run_config=config,
        business_date=day,
        execution_id=execution_id,
        **run_facts_of_range(context),
    )
    run_chunks(context, tasks, lambda task: post_task(database, task, ledger))
    return finish_batch(database, execution_id)


EXECUTION_TABLE_COLUMNS = ("execution_id", "job_type", "business_date", "status", "accounts", "failed")


@dg.op(name=OP_NAME)
def run_dates(
    context: dg.OpExecutionContext,
    config: RangedRunConfig,
    database: DatabaseResource,
    ledger: LedgerResource,
) -> dg.Output[int]:
    """Each date of the range in order, each job type in order, as its single-date run would;
    stops (fails) at the first that fails. Returns how many executions it closed.

    Each execution's reconciliation checks run (checks.sql) as its close op's do, right after it
    closes; their evaluations are logged on the run from one background thread, in order, while
    the next date runs: each event is several round trips to Dagster's storage (~35 ms), about
    as long as a small book's date itself. All are logged before the op returns or fails.
    """
    unknown = [j for j in config.job_types if j not in (ACCRUAL, POSTING)]
    if unknown or not config.job_types:
        raise ValueError(f"job_types must name {ACCRUAL} and/or {POSTING}, got {config.job_types}")
    rows: list[ExecutionRow] = []
    # One connection for the run's units of work, each still its own transaction (SessionDatabaseResource).
    session = SessionDatabaseResource(url=database.url)
    with (
        closing(session),
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="check-evaluations") as reporter,
    ):
        reported: list[Future[None]] = []
        for day in range_dates(context):
            for job_type in config.job_types:
                if job_type == ACCRUAL:
                    row = accrue_date(context, session, config.accrual, day)
                else:
                    row = post_date(context, session, ledger, config.posting, day)
                rows.append(row)
                checks = run_checks(session, row.id, job_type)
                reported.append(reporter.submit(report_checks, context, checks, day.isoformat()))
        for done in reported:
            done.result()
    table = [
        (r.id, r.job_type, r.business_date.isoformat(), r.status, r.accounts_processed, r.accounts_failed)
        for r in rows
    ]
    context.log.info(
        f"{len(rows)} execution(s): "
        + ", ".join(f"{s} {sum(r.status == s for r in rows)}" for s in sorted({r.status for r in rows}))
    )
    return dg.Output(
        len(rows),
        metadata={
            "executions": metadata_table(EXECUTION_TABLE_COLUMNS, table),
            "partial": dg.MetadataValue.int(sum(r.status == "PARTIAL" for r in rows)),
        },
    )

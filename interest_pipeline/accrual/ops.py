"""The accrual job's ops: thin wrappers over batch.lifecycle and accrual.sql."""

from collections.abc import Iterator

import dagster as dg

from interest_pipeline.accrual import sql
from interest_pipeline.batch.chunks import ChunkTask
from interest_pipeline.batch.config import BatchRunConfig
from interest_pipeline.batch.executions import ChunkTotals
from interest_pipeline.batch.lifecycle import finish_batch, run_chunk, start_batch
from interest_pipeline.batch.orchestration import (
    execution_metadata,
    retry_transient,
    run_facts,
)
from interest_pipeline.reporting.run_tables import accrual_close
from interest_pipeline.resources.database import DatabaseResource


@dg.op(out=dg.DynamicOut(ChunkTask))
def plan_accrual(
    context: dg.OpExecutionContext, config: BatchRunConfig, database: DatabaseResource
) -> Iterator[dg.DynamicOutput[ChunkTask]]:
    """Record the execution (RUNNING) and hand out the account chunks, failed-first when configured."""
    tasks = start_batch(database, job_type=sql.JOB_TYPE, run_config=config, **run_facts(context))
    context.log.info(f"{len(tasks)} chunk(s) of at most {tasks[0].config.batch_size} accounts")
    for task in tasks:
        yield dg.DynamicOutput(task, mapping_key=task.chunk.mapping_key)


@dg.op
def accrue_chunk(context: dg.OpExecutionContext, task: ChunkTask, database: DatabaseResource) -> ChunkTotals:
    """Accrue one chunk in one transaction with one set-based statement; transient errors retried."""
    totals = retry_transient(context, task, lambda: run_chunk(database, task, sql.accrue_chunk))
    context.add_output_metadata(
        {
            "accounts_processed": totals.processed,
            "accounts_failed": totals.failed,
            "amount_changed": totals.changed,
            "rows_removed": totals.removed,
            "amounts": dg.MetadataValue.json({c: str(a) for c, a in sorted(totals.amounts.items())}),
        }
    )
    return totals


@dg.op
def close_accrual(
    context: dg.OpExecutionContext, totals: list[ChunkTotals], database: DatabaseResource
) -> dg.Output[str]:
    """Close the execution: SUCCESS, or PARTIAL when some accounts failed; totals per currency.

    Then the reconciliation checks of what it wrote are logged as asset check evaluations
    (checks.dagster_checks), and its figures per currency attached as a table.
    """
    row = finish_batch(database, context.run_id)
    context.log.info(
        f"{row.business_date} {row.status}: {row.accounts_processed} accounts, "
        f"{row.accounts_failed} failed, totals {dict(row.totals_by_currency)}"
    )
    tables, _ = accrual_close(context, database, row.id, row.business_date)
    return dg.Output(row.status, metadata={**execution_metadata(row), **tables})

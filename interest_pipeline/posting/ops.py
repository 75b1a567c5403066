"""The posting job's ops: thin wrappers over posting.lifecycle and posting.sql."""

from collections.abc import Iterator

import dagster as dg

from interest_pipeline.batch.chunks import ChunkTask
from interest_pipeline.batch.config import BatchRunConfig
from interest_pipeline.batch.lifecycle import finish_batch
from interest_pipeline.batch.orchestration import (
    execution_metadata,
    retry_transient,
    run_facts,
)
from interest_pipeline.posting import sql
from interest_pipeline.posting.lifecycle import post_task, start_posting
from interest_pipeline.reporting.run_tables import posting_close
from interest_pipeline.resources.database import DatabaseResource
from interest_pipeline.resources.ledger import LedgerResource


def totals_metadata(totals: dict[str, sql.CurrencyTotals]) -> dict[str, dg.MetadataValue]:
    """Per currency: accounts posted, gross, tax, net; amounts as text, never floats."""
    metadata: dict[str, dg.MetadataValue] = {
        "posted": dg.MetadataValue.json(
            {
                currency: {
                    "accounts_posted": t.accounts_posted,
                    "gross": str(t.gross),
                    "tax": str(t.tax),
                    "net": str(t.net),
                }
                for currency, t in totals.items()
            }
        ),
        "accounts_posted": dg.MetadataValue.int(sum(t.accounts_posted for t in totals.values())),
    }
    for currency, t in totals.items():
        metadata[f"gross_{currency}"] = dg.MetadataValue.text(str(t.gross))
        metadata[f"tax_{currency}"] = dg.MetadataValue.text(str(t.tax))
        metadata[f"net_{currency}"] = dg.MetadataValue.text(str(t.net))
    return metadata


@dg.op(out=dg.DynamicOut(ChunkTask))
def plan_posting(
    context: dg.OpExecutionContext, config: BatchRunConfig, database: DatabaseResource
) -> Iterator[dg.DynamicOutput[ChunkTask]]:
    """Record the execution (RUNNING) and hand out chunks of the accounts due on P or owing a posting."""
    tasks = start_posting(database, run_config=config, **run_facts(context))
    due = sum(t.chunk.accounts for t in tasks)
    context.log.info(f"{due} account(s) due in {len(tasks)} chunk(s)")
    for task in tasks:
        yield dg.DynamicOutput(task, mapping_key=task.chunk.mapping_key)


@dg.op
def post_chunk(
    context: dg.OpExecutionContext, task: ChunkTask, database: DatabaseResource, ledger: LedgerResource
) -> sql.PostingChunkTotals:
    """Post one chunk: postings, journals, capitalization and results in one transaction;
    transient errors retried (the ledger's writes are in the same transaction)."""
    totals = retry_transient(context, task, lambda: post_task(database, task, ledger))
    context.add_output_metadata(
        {
            "accounts_processed": totals.processed,
            "accounts_failed": totals.failed,
            "journal_lines": totals.journal_lines,
            "late_postings_made": totals.late_posted,
            "late_postings_blocked": totals.late_blocked,
            **totals_metadata(dict(totals.posted)),
        }
    )
    return totals


@dg.op
def close_posting(
    context: dg.OpExecutionContext, totals: list[sql.PostingChunkTotals], database: DatabaseResource
) -> dg.Output[str]:
    """Close the execution: SUCCESS, or PARTIAL when some accounts failed; totals per currency.

    Postings still blocked count as failed accounts, so a run that leaves an owed posting
    waiting ends PARTIAL, as the run that first blocked it did.
    """
    row = finish_batch(database, context.run_id)
    posted = sql.add_totals(*(t.posted for t in totals))
    context.log.info(
        f"{row.business_date} {row.status}: {row.accounts_succeeded} posted, {row.accounts_failed} failed, "
        f"gross {dict(row.totals_by_currency)}"
    )
    metadata = {
        **execution_metadata(row),
        **totals_metadata(posted),
        "journal_lines": dg.MetadataValue.int(sum(t.journal_lines for t in totals)),
        # Postings owed from earlier due dates (blocked then): made by this run, and still waiting.
        "late_postings_made": dg.MetadataValue.int(sum(t.late_posted for t in totals)),
        "late_postings_blocked": dg.MetadataValue.int(sum(t.late_blocked for t in totals)),
    }
    # The reconciliation checks (logged as asset check evaluations) and the per-currency table; a
    # month end's report follows in its own run (reporting/month_job.py).
    tables, _ = posting_close(context, database, row.id, row.business_date)
    return dg.Output(row.status, metadata={**metadata, **tables})

"""`post --dry-run`: what a posting run of P would do, by the posting's own statements, written nowhere.

The whole run (an execution row, every chunk's passes: postings, journals, results) runs in ONE
transaction that is rolled back at the end, after the prediction has been
read back from it. The statements are `posting.sql.post_chunk`'s, unchanged, so the prediction is
exactly what a real run of P would decide on the same data: no key is taken, no row remains.

Sequence values ARE consumed: `interest_postings.id` and `ledger_entries.id` are identity
sequences, a chunk draws its place on the accruals' clock (`interest_write_seq`, whose values only
order writes), and nextval() is never rolled back in PostgreSQL. That is accepted rather than
avoided: ids are surrogate keys with no meaning (gaps already come from any rolled-back chunk),
nothing reads them as a count, and the idempotency keys, the business identity of a posting,
are left free. Avoiding it would mean re-writing the insert statements for the dry run, and then
it would no longer be the same SQL. While it runs, the dry run holds the rows it touched locked,
and accrual writers off (the posting chunk's SHARE lock on interest_accrual_entries), like a real
chunk does: a real posting run of the same date waits for it, and so does an accrual run.
"""

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

import psycopg
from sqlalchemy import ColumnElement, Table, Text, cast, select

from interest_pipeline.batch.chunks import ChunkTask
from interest_pipeline.batch.config import BatchRunConfig, load_job_config, merge_config
from interest_pipeline.batch.executions import open_execution
from interest_pipeline.batch.lifecycle import tune_chunk_transaction
from interest_pipeline.db import core
from interest_pipeline.db.tables import LEDGER, POSTING, RESULT
from interest_pipeline.domain.enums import ResultStatus
from interest_pipeline.posting import sql
from interest_pipeline.posting.sql import CurrencyTotals


class PredictedPosting(NamedTuple):
    """A posting the run would make (the columns and order of the tests' support.POSTING_COLUMNS)."""

    account_id: int
    posting_date: date
    idempotency_key: str
    currency: str
    carry_in: Decimal
    accrued: Decimal
    gross: Decimal
    carry_out: Decimal
    tax: Decimal
    net: Decimal
    is_final: bool
    written_off: Decimal


class PredictedLine(NamedTuple):
    """A journal line the run's ledger would write."""

    journal_key: str
    line_no: int
    gl_account: str
    account_id: int | None
    debit: Decimal
    credit: Decimal
    currency: str
    value_date: date


class PredictedResult(NamedTuple):
    """An account result the run would record."""

    account_id: int
    business_date: date
    status: str
    reason: str | None


def _columns(table: Table, row_type: type) -> list[ColumnElement[Any]]:
    """The row's columns, the CHAR(3) currency as text (no padding: the codes are 3 letters anyway)."""
    return [
        cast(column, Text).label("currency") if column.name == "currency" else column
        for column in core.columns_of(table, row_type)
    ]


@dataclass(frozen=True)
class DryRun:
    """The prediction: every posting, journal line and account result the run would write."""

    business_date: date
    postings: list[PredictedPosting]
    journal_lines: list[PredictedLine]
    results: list[PredictedResult]
    totals: dict[str, CurrencyTotals]

    @property
    def blocked(self) -> list[PredictedResult]:
        return [r for r in self.results if r.status == ResultStatus.FAILED]

    @property
    def due_accounts(self) -> int:
        return len(self.results)


def dry_run_posting(
    conn: psycopg.Connection,
    business_date: date,
    ledger: sql.Ledger,
    run_config: BatchRunConfig | None = None,
) -> DryRun:
    """Plan and post P as the job would, read what it wrote, roll everything back.

    Config errors (BatchConfigError) are raised before any statement writes.
    """
    config = merge_config(load_job_config(conn, sql.JOB_TYPE), run_config or BatchRunConfig())
    execution_id = f"dry-run-{uuid.uuid4()}"
    with conn.transaction(force_rollback=True):
        # The job's settings for its plan and chunk statements (no JIT, a chunk's work_mem): with
        # the server's defaults the same statements were JIT compiled anew, seconds at 1M accounts.
        tune_chunk_transaction(conn)
        chunks = sql.plan_chunks(conn, business_date, config)
        open_execution(
            conn,
            execution_id=execution_id,
            business_date=business_date,
            trigger="MANUAL",
            config=config,
            total_chunks=len(chunks),
        )
        for chunk in chunks:
            task = ChunkTask(
                execution_id=execution_id, business_date=business_date, config=config, chunk=chunk
            )
            sql.post_chunk(conn, task, ledger)
        postings = core.fetch_all(
            conn,
            select(*_columns(POSTING, PredictedPosting))
            .where(POSTING.c.execution_id == execution_id)
            .order_by(POSTING.c.account_id, POSTING.c.posting_date),
            PredictedPosting,
        )
        lines = core.fetch_all(
            conn,
            select(*_columns(LEDGER, PredictedLine))
            .select_from(LEDGER.join(POSTING, POSTING.c.idempotency_key == LEDGER.c.journal_key))
            .where(POSTING.c.execution_id == execution_id)
            .order_by(LEDGER.c.journal_key, LEDGER.c.line_no),
            PredictedLine,
        )
        results = core.fetch_all(
            conn,
            select(*core.columns_of(RESULT, PredictedResult))
            .where(RESULT.c.execution_id == execution_id)
            .order_by(RESULT.c.account_id, RESULT.c.business_date),
            PredictedResult,
        )
    totals: dict[str, CurrencyTotals] = {}
    for posting in postings:
        amounts = CurrencyTotals(1, posting.gross, posting.tax, posting.net)
        currency = posting.currency
        totals[currency] = totals[currency] + amounts if currency in totals else amounts
    return DryRun(business_date, postings, lines, results, dict(sorted(totals.items())))


def render_dry_run(run: DryRun) -> str:
    """What a person reads: the counts, the blocked accounts with their reasons, totals per currency."""
    from tabulate import tabulate

    statuses: dict[str, int] = {}
    for _, _, status, _ in run.results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    journals = len({line[0] for line in run.journal_lines})
    lines = [
        f"DRY RUN of the posting of {run.business_date}: nothing was written, no key was taken",
        f"accounts due or owing: {run.due_accounts} ({statuses.get('SUCCESS', 0)} would be posted, "
        f"{statuses.get('SKIPPED', 0)} skipped, {statuses.get('FAILED', 0)} blocked)",
        f"journals: {journals} ({len(run.journal_lines)} lines)",
        "",
        tabulate(
            [
                (c, t.accounts_posted, f"{t.gross:f}", f"{t.tax:f}", f"{t.net:f}")
                for c, t in run.totals.items()
            ],
            headers=("currency", "postings", "gross", "tax", "net"),
            tablefmt="github",
            disable_numparse=True,
        )
        if run.totals
        else "no posting would be made",
    ]
    if run.blocked:
        lines += ["", "blocked:"]
        lines += [f"  account {a} due {d}: {reason}" for a, d, _, reason in run.blocked]
    return "\n".join(lines)

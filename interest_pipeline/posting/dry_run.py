"""`post --dry-run`: what a posting run of P would do, by the posting's own statements, written nowhere.

The whole run (an execution row, every chunk's passes: postings, journals, capitalization,
results) runs in ONE transaction that is rolled back at the end, after the prediction has been
read back from it. The statements are `posting.sql.post_chunk`'s, unchanged, so the prediction is
exactly what a real run of P would decide on the same data: no key is taken, no row remains.

Sequence values ARE consumed: `interest_postings.id` and `ledger_entries.id` are identity
sequences, and nextval() is never rolled back in PostgreSQL. That is accepted rather than
avoided: ids are surrogate keys with no meaning (gaps already come from any rolled-back chunk),
nothing reads them as a count, and the idempotency keys, the business identity of a posting,
are left free. Avoiding it would mean re-writing the insert statements for the dry run, and then
it would no longer be the same SQL. While it runs, the dry run holds the rows it touched locked,
like a real chunk does: a real posting run of the same date waits for it.
"""

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import psycopg

from interest_pipeline.batch.chunks import ChunkTask
from interest_pipeline.batch.config import BatchRunConfig, load_job_config, merge_config
from interest_pipeline.batch.executions import open_execution
from interest_pipeline.posting import sql
from interest_pipeline.posting.sql import CurrencyTotals


@dataclass(frozen=True)
class DryRun:
    """The prediction: every posting, journal line and account result the run would write."""

    business_date: date
    # (account_id, posting_date, idempotency_key, currency, carry_in, accrued, gross, carry_out, tax,
    #  net, is_final, written_off), as support.POSTING_COLUMNS orders them
    postings: list[tuple[object, ...]]
    # (journal_key, line_no, gl_account, account_id, debit, credit, currency, value_date)
    journal_lines: list[tuple[object, ...]]
    # (account_id, business_date, status, reason)
    results: list[tuple[object, ...]]
    totals: dict[str, CurrencyTotals]

    @property
    def blocked(self) -> list[tuple[object, ...]]:
        return [r for r in self.results if r[2] == "FAILED"]

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
        params = {"id": execution_id}
        postings = [
            (*row[:3], row[3].strip(), *row[4:])
            for row in conn.execute(
                "SELECT account_id, posting_date, idempotency_key, currency, carry_in, accrued, gross,"
                " carry_out, tax, net, is_final, written_off FROM interest_postings"
                " WHERE execution_id = %(id)s ORDER BY account_id, posting_date",
                params,
            )
        ]
        lines = [
            (*row[:6], row[6].strip(), row[7])
            for row in conn.execute(
                "SELECT l.journal_key, l.line_no, l.gl_account, l.account_id, l.debit, l.credit, l.currency,"
                " l.value_date FROM ledger_entries l"
                " JOIN interest_postings p ON p.idempotency_key = l.journal_key"
                " WHERE p.execution_id = %(id)s ORDER BY l.journal_key, l.line_no",
                params,
            )
        ]
        results = [
            tuple(row)
            for row in conn.execute(
                "SELECT account_id, business_date, status, reason FROM interest_batch_account_result"
                " WHERE execution_id = %(id)s ORDER BY account_id, business_date",
                params,
            )
        ]
    totals: dict[str, CurrencyTotals] = {}
    for posting in postings:
        currency = str(posting[3])
        amounts = CurrencyTotals(1, _d(posting[6]), _d(posting[8]), _d(posting[9]))
        totals[currency] = totals[currency] + amounts if currency in totals else amounts
    return DryRun(business_date, postings, lines, results, dict(sorted(totals.items())))


def _d(value: object) -> Decimal:
    assert isinstance(value, Decimal)
    return value


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

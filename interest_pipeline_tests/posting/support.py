"""Test books for the posting job: input rows written to PostgreSQL and the same facts for the oracle.

`accrue_day` stands in for the accrual job in the posting tests: it records an accrual execution,
its account results and ACCRUED rows exactly as the agreed contract says the accrual job does,
with the amounts of the domain core, so posting can be tested date by date without it.
"""

import itertools
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import psycopg

from interest_pipeline.accrual import sql as accrual_sql
from interest_pipeline.batch.config import BatchRunConfig
from interest_pipeline.batch.executions import ExecutionRow, account_status_upsert
from interest_pipeline.batch.lifecycle import finish_batch, run_chunk, start_batch
from interest_pipeline.domain import (
    AccountFacts,
    AccountStatus,
    AccountType,
    AccrualKind,
    DayCount,
    PostingFrequency,
    ProductFacts,
    SimulationResult,
    Tier,
    TierMode,
    accrual_decision,
    simulate,
)
from interest_pipeline.posting import sql as posting_sql
from interest_pipeline.posting.lifecycle import post_business_date, unknown_run
from interest_pipeline.resources.database import DatabaseResource
from interest_pipeline.resources.ledger import PostgresLedgerResource

MINOR_UNITS = {"USD": 2, "EUR": 2, "GBP": 2, "CHF": 2, "JPY": 0, "KRW": 0, "KWD": 3, "BHD": 3, "OMR": 3}
ALL_TYPES = [t.value for t in AccountType]

_execution_ids = itertools.count(1)


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(n) for n in range((last - first).days + 1)]


def product(
    code: str,
    frequency: PostingFrequency = PostingFrequency.MONTHLY,
    *,
    tax: str = "0",
    day_count: DayCount = DayCount.ACT_365F,
    account_type: AccountType = AccountType.SAVINGS,
) -> ProductFacts:
    return ProductFacts(
        code=code,
        account_type=account_type,
        day_count=day_count,
        posting_frequency=frequency,
        tier_mode=TierMode.WHOLE,
        withholding_tax_rate=Decimal(tax),
    )


@dataclass
class Book:
    """Products, tiers, accounts and balances: written to the database and fed to the simulator."""

    products: dict[str, ProductFacts] = field(default_factory=dict)
    tiers: list[tuple[str, Tier]] = field(default_factory=list)
    accounts: list[AccountFacts] = field(default_factory=list)
    balances: dict[int, list[tuple[date, Decimal]]] = field(default_factory=dict)

    def add_product(
        self, facts: ProductFacts, rate: str = "10", since: date = date(2020, 1, 1)
    ) -> ProductFacts:
        self.products[facts.code] = facts
        self.tiers.append((facts.code, Tier(since, Decimal(0), Decimal(rate))))
        return facts

    def add_account(
        self,
        facts: ProductFacts,
        account_id: int,
        *,
        currency: str = "USD",
        balance: str = "1000.0000",
        opened_on: date = date(2024, 1, 1),
        closed_on: date | None = None,
        maturity_date: date | None = None,
        status: AccountStatus = AccountStatus.ACTIVE,
    ) -> AccountFacts:
        if closed_on is not None:
            status = AccountStatus.CLOSED
        account = AccountFacts.of(
            facts,
            id=account_id,
            currency=currency,
            opened_on=opened_on,
            closed_on=closed_on,
            maturity_date=maturity_date,
            status=status,
        )
        self.accounts.append(account)
        self.balances[account_id] = [(opened_on, Decimal(balance))]
        return account

    def write(self, conn: psycopg.Connection) -> None:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO interest_products (code, account_type, day_count, posting_frequency, tier_mode,"
                " min_balance_for_interest, withholding_tax_rate) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [
                    (
                        p.code,
                        p.account_type.value,
                        p.day_count.value,
                        p.posting_frequency.value,
                        p.tier_mode.value,
                        p.min_balance_for_interest,
                        p.withholding_tax_rate,
                    )
                    for p in self.products.values()
                ],
            )
            cur.executemany(
                "INSERT INTO interest_rate_tiers VALUES (%s, %s, %s, %s)",
                [(code, t.effective_from, t.min_balance, t.annual_rate) for code, t in self.tiers],
            )
            cur.executemany(
                "INSERT INTO accounts (id, account_number, product_code, currency, status, opened_on, closed_on,"
                " maturity_date, rate_override) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    (
                        a.id,
                        f"ACC{a.id}",
                        a.product_code,
                        a.currency,
                        a.status.value,
                        a.opened_on,
                        a.closed_on,
                        a.maturity_date,
                        a.rate_override,
                    )
                    for a in self.accounts
                ],
            )
            cur.executemany(
                "INSERT INTO account_balances VALUES (%s, %s, %s)",
                [(account_id, d, b) for account_id, rows in self.balances.items() for d, b in rows],
            )

    def simulate(self, start: date, end: date) -> SimulationResult:
        return simulate(
            products=self.products,
            tiers=self.tiers,
            accounts=self.accounts,
            balances=self.balances,
            minor_units=MINOR_UNITS,
            start=start,
            end=end,
        )


STATUS_SOURCE = "(SELECT account_id, result_status, reason, NULL::text AS error_message FROM src)"


def accrue_day(
    conn: psycopg.Connection,
    book: Book,
    d: date,
    *,
    status: str = "SUCCESS",
    account_ids: Sequence[int] | None = None,
    account_types: Collection[str] = ALL_TYPES,
    fail: Collection[int] = (),
) -> str:
    """Record a finished accrual run of `d` (the accounts in `fail` get a FAILED result); its id."""
    execution_id = f"accrual-{next(_execution_ids)}-{d}"
    conn.execute(
        "INSERT INTO interest_batch_execution (id, job_type, business_date, trigger, status, account_ids,"
        " account_types, started_at, completed_at)"
        " VALUES (%s, 'daily_interest_accrual', %s, 'MANUAL', %s, %s, %s, clock_timestamp(),"
        " CASE WHEN %s = 'RUNNING' THEN NULL ELSE clock_timestamp() END)",
        (execution_id, d, status, account_ids, list(account_types), status),
    )
    schedules = {code: [t for c, t in book.tiers if c == code] for code in book.products}
    results: list[tuple[object, ...]] = []
    accruals: list[tuple[object, ...]] = []
    for account in book.accounts:
        if account_ids is not None and account.id not in account_ids:
            continue
        balance = _balance_on(book.balances.get(account.id, []), d)
        decision = accrual_decision(
            account,
            balance,
            d,
            include_dormant=False,
            account_types={AccountType(t) for t in account_types},
            schedule=schedules[account.product_code],
        )
        if decision.kind is AccrualKind.INELIGIBLE:
            continue
        if account.id in fail:
            results.append((execution_id, d, account.id, "FAILED", None, "NO_RATE"))
        elif decision.kind is AccrualKind.ACCRUE:
            results.append((execution_id, d, account.id, "SUCCESS", decision.amount, None))
            accruals.append((account.id, d, balance, decision.amount, execution_id))
        else:
            results.append((execution_id, d, account.id, decision.kind.value, None, decision.reason))
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO interest_batch_account_result (execution_id, job_type, business_date, account_id,"
            " status, amount, reason) VALUES (%s, 'daily_interest_accrual', %s, %s, %s, %s, %s)",
            results,
        )
        # and each account's status row, by the job's own upsert (its first result date is where
        # the posting's completeness check starts counting missing dates)
        cur.execute(
            "WITH src AS (SELECT * FROM unnest(%(ids)s::bigint[], %(statuses)s::text[], %(reasons)s::text[])"
            " AS u (account_id, result_status, reason)),"
            f" upserted AS ({account_status_upsert(accrual_sql.JOB_TYPE, STATUS_SOURCE)}) SELECT 1",
            {
                "ids": [r[2] for r in results],
                "statuses": [r[3] for r in results],
                "reasons": [r[5] for r in results],
                "business_date": d,
                "execution_id": execution_id,
            },
        )
        cur.executemany(
            "INSERT INTO interest_accruals (account_id, accrual_date, balance, amount, execution_id)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (account_id, accrual_date) DO UPDATE"
            " SET amount = excluded.amount, balance = excluded.balance, execution_id = excluded.execution_id"
            " WHERE interest_accruals.status = 'ACCRUED'",
            accruals,
        )
    return execution_id


def accrue_with_the_job(database: DatabaseResource, d: date, run_id: str, *, batch_size: int = 100) -> None:
    """One accrual run of d through the accrual job's own lifecycle and chunk statement, in this process."""
    tasks = start_batch(
        database,
        job_type=accrual_sql.JOB_TYPE,
        run_id=run_id,
        business_date=d,
        trigger="BACKFILL",
        run_config=BatchRunConfig(batch_size=batch_size),
        run_state=unknown_run,
    )
    for task in tasks:
        run_chunk(database, task, accrual_sql.accrue_chunk)
    finish_batch(database, run_id)


def accrue_days(conn: psycopg.Connection, book: Book, dates: Iterable[date], **kwargs: object) -> None:
    for d in dates:
        accrue_day(conn, book, d, **kwargs)  # type: ignore[arg-type]


def _balance_on(rows: list[tuple[date, Decimal]], d: date) -> Decimal | None:
    dated = [b for bd, b in sorted(rows) if bd <= d]
    return dated[-1] if dated else None


@dataclass(frozen=True)
class DayResult:
    execution: ExecutionRow
    chunks: list[posting_sql.PostingChunkTotals]

    @property
    def succeeded(self) -> int:
        return self.execution.accounts_succeeded

    @property
    def skipped(self) -> int:
        return self.execution.accounts_skipped

    @property
    def failed(self) -> int:
        return self.execution.accounts_failed

    @property
    def journal_lines(self) -> int:
        return sum(c.journal_lines for c in self.chunks)

    @property
    def totals(self) -> dict[str, posting_sql.CurrencyTotals]:
        return posting_sql.add_totals(*(c.posted for c in self.chunks))


def post_day(
    conn: psycopg.Connection,
    p: date,
    *,
    ledger: posting_sql.Ledger | None = None,
    batch_size: int = 1000,
    account_types: Sequence[str] | None = None,
    account_ids: Sequence[int] | None = None,
) -> DayResult:
    """Post P the way the job's ops do, chunk by chunk, without Dagster (on INTEREST_DATABASE_URL)."""
    chunks: list[posting_sql.PostingChunkTotals] = []
    execution = post_business_date(
        DatabaseResource(),
        p,
        ledger or PostgresLedgerResource(),
        run_config=BatchRunConfig(
            batch_size=batch_size,
            account_types=list(account_types) if account_types is not None else None,
            account_ids=list(account_ids) if account_ids is not None else None,
        ),
        on_chunk=chunks.append,
    )
    return DayResult(execution, chunks)


POSTING_COLUMNS = (
    "account_id, posting_date, idempotency_key, currency, carry_in, accrued, gross, carry_out, tax, net,"
    " is_final, written_off"
)


def db_postings(conn: psycopg.Connection) -> list[tuple[object, ...]]:
    return [
        (*row[:3], row[3].strip(), *row[4:])
        for row in conn.execute(
            f"SELECT {POSTING_COLUMNS} FROM interest_postings ORDER BY account_id, posting_date"
        )
    ]


def oracle_postings(result: SimulationResult) -> list[tuple[object, ...]]:
    return sorted(
        (
            p.account_id,
            p.posting_date,
            p.idempotency_key,
            p.currency,
            p.carry_in,
            p.accrued,
            p.gross,
            p.carry_out,
            p.tax,
            p.net,
            p.is_final,
            p.written_off,
        )
        for p in result.postings
    )


def db_ledger(conn: psycopg.Connection) -> list[tuple[object, ...]]:
    return [
        (*row[:6], row[6].strip(), row[7])
        for row in conn.execute(
            "SELECT journal_key, line_no, gl_account, account_id, debit, credit, currency, value_date"
            " FROM ledger_entries ORDER BY journal_key, line_no"
        )
    ]


def oracle_ledger(result: SimulationResult) -> list[tuple[object, ...]]:
    return sorted(
        (
            line.journal_key,
            line.line_no,
            line.gl_account,
            line.account_id,
            line.debit,
            line.credit,
            line.currency,
            line.value_date,
        )
        for p in result.postings
        for line in p.journal
    )


def account_results(conn: psycopg.Connection, p: date) -> dict[int, tuple[str, str | None]]:
    """The posting results of P's latest execution: account -> (status, reason)."""
    rows = conn.execute(
        "SELECT account_id, status, reason FROM interest_batch_account_result"
        " WHERE job_type = 'interest_posting' AND business_date = %s"
        "   AND execution_id = (SELECT id FROM interest_batch_execution WHERE job_type = 'interest_posting'"
        "                        AND business_date = %s ORDER BY started_at DESC, id DESC LIMIT 1)",
        (p, p),
    ).fetchall()
    return {account_id: (status, reason) for account_id, status, reason in rows}


def posting_run_in_child(p: date, batch_size: int, barrier: Any, outcomes: Any) -> None:
    """Entry point of a spawned process: one real posting run of P on an instance of its own."""
    import dagster as dg

    from interest_pipeline.definitions import defs
    from interest_pipeline.posting.job import JOB_NAME

    barrier.wait()
    result = defs.get_job_def(JOB_NAME).execute_in_process(
        partition_key=p.isoformat(),
        instance=dg.DagsterInstance.ephemeral(),
        run_config={"ops": {"plan_posting": {"config": {"batch_size": batch_size}}}},
        raise_on_error=False,
    )
    outcomes.put(result.success)

"""The issue's key test: a generated book over a year crossing a leap day, accrued and posted every
date through the jobs' own code paths, holds exactly what the domain simulator computes.

Each date runs the accrual job's lifecycle (start, every chunk, close) and then the posting job's,
in this process: the very functions the ops call, without Dagster's per-run overhead (the Dagster
jobs themselves are covered by test_job.py). About 400 dates x 2 runs.
"""

from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import psycopg
import pytest
from sqlalchemy.engine import URL

from interest_pipeline.batch.config import BatchRunConfig
from interest_pipeline.data.generate import generate_book
from interest_pipeline.domain import (
    AccountFacts,
    AccountStatus,
    AccountType,
    DayCount,
    PostingFrequency,
    ProductFacts,
    SimulationResult,
    Tier,
    TierMode,
    simulate,
)
from interest_pipeline.posting.lifecycle import post_business_date
from interest_pipeline.resources.database import DatabaseResource
from interest_pipeline.resources.ledger import PostgresLedgerResource
from interest_pipeline.settings import libpq_url
from interest_pipeline_tests.posting.support import (
    MINOR_UNITS,
    accrue_with_the_job,
    days,
    db_ledger,
    db_postings,
    oracle_ledger,
    oracle_postings,
)

START = date(2023, 12, 1)
END = date(2024, 12, 31)
ACCOUNTS = 300
SEED = 20240229


def read_book(
    conn: psycopg.Connection,
) -> tuple[
    dict[str, ProductFacts], list[tuple[str, Tier]], list[AccountFacts], dict[int, list[tuple[date, Decimal]]]
]:
    """The generated input tables as the domain core's facts."""
    products = {
        row[0]: ProductFacts(
            code=row[0],
            account_type=AccountType(row[1]),
            day_count=DayCount(row[2]),
            posting_frequency=PostingFrequency(row[3]),
            tier_mode=TierMode(row[4]),
            min_balance_for_interest=row[5],
            withholding_tax_rate=row[6],
        )
        for row in conn.execute(
            "SELECT code, account_type, day_count, posting_frequency, tier_mode, min_balance_for_interest,"
            " withholding_tax_rate FROM interest_products"
        )
    }
    tiers = [
        (code, Tier(effective_from, min_balance, rate))
        for code, effective_from, min_balance, rate in conn.execute(
            "SELECT product_code, effective_from, min_balance, annual_rate FROM interest_rate_tiers"
        )
    ]
    accounts = [
        AccountFacts.of(
            products[row[1]],
            id=row[0],
            currency=row[2].strip(),
            status=AccountStatus(row[3]),
            opened_on=row[4],
            closed_on=row[5],
            maturity_date=row[6],
            rate_override=row[7],
        )
        for row in conn.execute(
            "SELECT id, product_code, currency, status, opened_on, closed_on, maturity_date, rate_override"
            " FROM accounts ORDER BY id"
        )
    ]
    balances: dict[int, list[tuple[date, Decimal]]] = defaultdict(list)
    for account_id, balance_date, balance in conn.execute(
        "SELECT account_id, balance_date, closing_balance FROM account_balances"
    ):
        balances[account_id].append((balance_date, balance))
    return products, tiers, accounts, balances


def accrue(database: DatabaseResource, d: date, run_id: str) -> None:
    accrue_with_the_job(database, d, run_id, batch_size=100)


@pytest.fixture(scope="module")
def year(
    database_url: URL, _seeded_config: list[tuple[object, ...]]
) -> Iterator[tuple[URL, SimulationResult]]:
    from interest_pipeline_tests.support.database import reset_data

    reset_data(database_url, _seeded_config)
    with psycopg.connect(libpq_url(database_url)) as conn:
        generate_book(conn, accounts=ACCOUNTS, start=START, days=(END - START).days + 1, seed=SEED)
        products, tiers, accounts, balances = read_book(conn)
    database = DatabaseResource()
    ledger = PostgresLedgerResource()
    for d in days(START, END):
        accrue(database, d, f"accrual-{d}")
        post_business_date(
            database, d, ledger, run_id=f"posting-{d}", run_config=BatchRunConfig(batch_size=100)
        )
    oracle = simulate(
        products=products,
        tiers=tiers,
        accounts=accounts,
        balances=balances,
        minor_units=MINOR_UNITS,
        start=START,
        end=END,
    )
    yield database_url, oracle
    reset_data(database_url, _seeded_config)


@pytest.fixture
def db(year: tuple[URL, SimulationResult]) -> Iterator[psycopg.Connection]:
    with psycopg.connect(libpq_url(year[0])) as conn:
        yield conn


@pytest.fixture
def oracle(year: tuple[URL, SimulationResult]) -> SimulationResult:
    return year[1]


# One xdist worker builds the year (~3 minutes); split over two, both built it.
@pytest.mark.xdist_group("year-reconciliation")
class TestYearReconciles:
    def test_the_book_exercises_the_rules(self, oracle: SimulationResult) -> None:
        finals = [p for p in oracle.postings if p.is_final]
        currencies = {p.currency for p in oracle.postings}
        assert len(oracle.postings) > 1000
        assert finals and any(p.written_off for p in finals)
        assert {"JPY", "KRW", "USD", "KWD", "BHD"} <= currencies
        assert any(p.gross == 0 for p in oracle.postings)
        assert any(p.tax > 0 for p in oracle.postings) and any(
            p.tax == 0 and p.gross > 0 for p in oracle.postings
        )
        assert any(p.posting_date == date(2024, 2, 29) for p in oracle.postings)

    def test_every_accrual_amount(self, db: psycopg.Connection, oracle: SimulationResult) -> None:
        rows = db.execute(
            "SELECT account_id, accrual_date, amount, balance FROM interest_accruals"
        ).fetchall()
        assert {(a, d): amount for a, d, amount, _ in rows} == oracle.accruals
        assert {(a, d): balance for a, d, _, balance in rows} == oracle.accrual_balances

    def test_every_accrual_capitalized_on_its_posting_date(
        self, db: psycopg.Connection, oracle: SimulationResult
    ) -> None:
        rows = db.execute(
            "SELECT a.account_id, a.accrual_date, a.status, a.capitalization_date, p.posting_date"
            " FROM interest_accruals a LEFT JOIN interest_postings p ON p.id = a.posting_id"
        ).fetchall()
        assert {(a, d): (c, p) for a, d, status, c, p in rows if status == "CAPITALIZED"} == {
            k: (v, v) for k, v in oracle.capitalization_dates.items()
        }
        assert {(a, d) for a, d, status, _, _ in rows if status == "ACCRUED"} == (
            set(oracle.accruals) - set(oracle.capitalization_dates)
        )

    def test_every_posting(self, db: psycopg.Connection, oracle: SimulationResult) -> None:
        assert db_postings(db) == oracle_postings(oracle)

    def test_every_journal_line(self, db: psycopg.Connection, oracle: SimulationResult) -> None:
        assert db_ledger(db) == oracle_ledger(oracle)

    def test_blocked_postings_are_the_oracles(self, db: psycopg.Connection, oracle: SimulationResult) -> None:
        failed = db.execute(
            "SELECT account_id, business_date FROM interest_batch_account_result"
            " WHERE job_type = 'interest_posting' AND status = 'FAILED'"
        ).fetchall()
        assert set(failed) == set(oracle.posting_failures)

    def test_gross_plus_carry_is_what_was_accrued(self, db: psycopg.Connection) -> None:
        mismatched = db.execute(
            "SELECT p.account_id FROM interest_postings p"
            " JOIN (SELECT account_id, sum(amount) AS accrued FROM interest_accruals WHERE status = 'CAPITALIZED'"
            "       GROUP BY account_id) a ON a.account_id = p.account_id"
            " GROUP BY p.account_id, a.accrued"
            " HAVING sum(p.gross) + (array_agg(p.carry_out ORDER BY p.posting_date DESC))[1] <> a.accrued"
        ).fetchall()
        assert mismatched == []

    def test_every_execution_finished(self, db: psycopg.Connection) -> None:
        statuses = db.execute(
            "SELECT job_type, status, count(*) FROM interest_batch_execution GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()
        dates = (END - START).days + 1
        assert sum(n for job, status, n in statuses if job == "interest_posting") == dates
        assert all(status in ("SUCCESS", "PARTIAL") for _, status, _ in statuses)

"""The `interest_posting` Dagster job: real runs (in-process executor) on real PostgreSQL."""

import multiprocessing
from datetime import date
from decimal import Decimal
from typing import Any

import dagster as dg
import psycopg
import pytest

from interest_pipeline.posting.job import build_posting_job
from interest_pipeline.posting.sql import ALREADY_POSTED
from interest_pipeline.resources.database import DatabaseResource
from interest_pipeline.resources.ledger import LedgerResource, PostgresLedgerResource
from interest_pipeline_tests.posting.fakes import FailingLedger
from interest_pipeline_tests.posting.support import (
    Book,
    account_results,
    accrue_day,
    accrue_days,
    days,
    db_ledger,
    db_postings,
    oracle_ledger,
    oracle_postings,
    posting_run_in_child,
    product,
)

JAN_1 = date(2025, 1, 1)
JAN_31 = date(2025, 1, 31)


@pytest.fixture(scope="module")
def instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.ephemeral()


def post(
    p: date,
    instance: dg.DagsterInstance,
    *,
    ledger: LedgerResource | None = None,
    raise_on_error: bool = True,
    **config: Any,
) -> dg.ExecuteInProcessResult:
    return build_posting_job().execute_in_process(
        partition_key=p.isoformat(),
        instance=instance,
        resources={"database": DatabaseResource(), "ledger": ledger or PostgresLedgerResource()},
        run_config={"ops": {"plan_posting": {"config": config}}} if config else None,
        raise_on_error=raise_on_error,
    )


def execution(conn: psycopg.Connection, run_id: str) -> tuple[object, ...]:
    row = conn.execute(
        "SELECT job_type, business_date, status, total_chunks, chunks_completed, accounts_processed,"
        " accounts_succeeded, accounts_skipped, accounts_failed, totals_by_currency"
        " FROM interest_batch_execution WHERE id = %s",
        (run_id,),
    ).fetchone()
    assert row is not None
    return tuple(row)


def output_metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    [event] = [e for e in result.all_node_events if e.is_successful_output and e.step_key == "close_posting"]
    return {k: v.value for k, v in event.event_specific_data.metadata.items()}  # type: ignore[union-attr]


def january_book(conn: psycopg.Connection, accounts: int) -> Book:
    """Accounts 1..N in three currencies with 15 % tax, accrued all of January."""
    book = Book()
    facts = book.add_product(product("SAV", tax="15"))
    for n in range(1, accounts + 1):
        book.add_account(facts, n, currency=["USD", "JPY", "KWD"][n % 3], balance=f"{1000 * n}.0000")
    book.write(conn)
    accrue_days(conn, book, days(JAN_1, JAN_31))
    return book


@pytest.fixture
def book(conn: psycopg.Connection) -> Book:
    return january_book(conn, 12)


class TestPostingRun:
    def test_run_posts_exactly_the_oracle(
        self, conn: psycopg.Connection, book: Book, instance: dg.DagsterInstance
    ) -> None:
        result = post(JAN_31, instance, batch_size=5)
        assert result.success
        oracle = book.simulate(JAN_1, JAN_31)
        assert db_postings(conn) == oracle_postings(oracle)
        assert db_ledger(conn) == oracle_ledger(oracle)

    def test_execution_row_counts_and_gross_per_currency(
        self, conn: psycopg.Connection, book: Book, instance: dg.DagsterInstance
    ) -> None:
        result = post(JAN_31, instance, batch_size=5)
        postings = book.simulate(JAN_1, JAN_31).postings
        # Exact decimal strings at the money columns' scale, one per currency; never added together.
        gross = {
            c: str(
                sum((p.gross for p in postings if p.currency == c), Decimal(0)).quantize(Decimal("0.0001"))
            )
            for c in ("JPY", "KWD", "USD")
        }
        row = execution(conn, result.run_id)
        # 12 due accounts in chunks of at most 5, a multiple of the 2 parallel threads: four of 3
        assert row[:9] == ("interest_posting", JAN_31, "SUCCESS", 4, 4, 12, 12, 0, 0)
        assert row[9] == gross

    def test_postings_carry_the_run_id(
        self, conn: psycopg.Connection, book: Book, instance: dg.DagsterInstance
    ) -> None:
        result = post(JAN_31, instance)
        assert conn.execute("SELECT DISTINCT execution_id FROM interest_postings").fetchall() == [
            (result.run_id,)
        ]

    def test_metadata_totals_per_currency_as_text(
        self, conn: psycopg.Connection, instance: dg.DagsterInstance
    ) -> None:
        book = Book()
        book.add_account(book.add_product(product("SAV", tax="15")), 1)
        book.write(conn)
        accrue_days(conn, book, days(JAN_1, JAN_31))
        metadata = output_metadata(post(JAN_31, instance))
        assert metadata["posted"] == {
            "USD": {"accounts_posted": 1, "gross": "8.4900", "tax": "1.2700", "net": "7.2200"}
        }
        assert (metadata["gross_USD"], metadata["tax_USD"], metadata["net_USD"]) == (
            "8.4900",
            "1.2700",
            "7.2200",
        )
        assert metadata["accounts_posted"] == 1
        assert metadata["status"] == "SUCCESS"

    def test_blocked_accounts_make_the_execution_partial(
        self, conn: psycopg.Connection, book: Book, instance: dg.DagsterInstance
    ) -> None:
        accrue_day(conn, book, date(2025, 1, 20), fail={4})
        result = post(JAN_31, instance)
        assert result.success
        assert execution(conn, result.run_id)[2:9] == ("PARTIAL", 1, 1, 12, 11, 0, 1)
        assert account_results(conn, JAN_31)[4] == ("FAILED", "INCOMPLETE_ACCRUALS: failed 2025-01-20")

    def test_a_day_with_nothing_due_succeeds_empty(
        self, conn: psycopg.Connection, book: Book, instance: dg.DagsterInstance
    ) -> None:
        result = post(date(2025, 1, 30), instance)
        assert execution(conn, result.run_id)[2:9] == ("SUCCESS", 1, 1, 0, 0, 0, 0)

    def test_account_ids_limit_the_run(
        self, conn: psycopg.Connection, book: Book, instance: dg.DagsterInstance
    ) -> None:
        post(JAN_31, instance, account_ids=[2, 3])
        assert conn.execute("SELECT account_id FROM interest_postings ORDER BY 1").fetchall() == [(2,), (3,)]


class TestPostingRunIdempotency:
    def test_rerun_posts_nothing_new(
        self, conn: psycopg.Connection, book: Book, instance: dg.DagsterInstance
    ) -> None:
        post(JAN_31, instance, batch_size=5)
        before = (db_postings(conn), db_ledger(conn))
        again = post(JAN_31, instance, batch_size=4)
        assert (db_postings(conn), db_ledger(conn)) == before
        assert execution(conn, again.run_id)[5:9] == (12, 0, 12, 0)
        assert set(account_results(conn, JAN_31).values()) == {("SKIPPED", ALREADY_POSTED)}

    def test_two_runs_at_once_post_each_key_once(
        self, conn: psycopg.Connection, book: Book, instance: dg.DagsterInstance
    ) -> None:
        # Two processes, as two launched runs would be; Dagster's in-memory instance is not for threads.
        spawn = multiprocessing.get_context("spawn")
        barrier = spawn.Barrier(2, timeout=120)
        queue = spawn.Queue()
        children = [
            spawn.Process(target=posting_run_in_child, args=(JAN_31, 2, barrier, queue)) for _ in range(2)
        ]
        for child in children:
            child.start()
        outcomes = [queue.get(timeout=180) for _ in children]
        for child in children:
            child.join(timeout=60)
        assert outcomes == [True, True]
        oracle = book.simulate(JAN_1, JAN_31)
        assert db_postings(conn) == oracle_postings(oracle)
        assert db_ledger(conn) == oracle_ledger(oracle)
        assert conn.execute(
            "SELECT sum(accounts_succeeded), sum(accounts_skipped) FROM interest_batch_execution"
            " WHERE job_type = 'interest_posting'"
        ).fetchone() == (12, 12)

    def test_failure_on_second_chunk_fails_the_run_and_keeps_the_first_chunk(
        self, conn: psycopg.Connection, book: Book, instance: dg.DagsterInstance
    ) -> None:
        # 12 due accounts in chunks of at most 6: accounts 1-6, then 7-12
        result = post(
            JAN_31, instance, batch_size=6, ledger=FailingLedger(fail_for_account_id=7), raise_on_error=False
        )
        assert not result.success
        assert execution(conn, result.run_id)[2:5] == ("FAILED", 2, 1)
        assert conn.execute(
            "SELECT array_agg(account_id ORDER BY account_id) FROM interest_postings"
        ).fetchone() == ([1, 2, 3, 4, 5, 6],)

    def test_rerun_after_a_failed_run_ends_as_a_clean_run(
        self, conn: psycopg.Connection, book: Book, instance: dg.DagsterInstance
    ) -> None:
        post(
            JAN_31, instance, batch_size=5, ledger=FailingLedger(fail_for_account_id=7), raise_on_error=False
        )
        assert post(JAN_31, instance, batch_size=5).success
        oracle = book.simulate(JAN_1, JAN_31)
        assert db_postings(conn) == oracle_postings(oracle)
        assert db_ledger(conn) == oracle_ledger(oracle)
        assert conn.execute("SELECT count(*) FROM interest_accruals WHERE status = 'ACCRUED'").fetchone() == (
            0,
        )

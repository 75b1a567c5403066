"""The posting SQL (spec §3) on real PostgreSQL, checked against the domain core's simulator."""

import threading
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import URL

from interest_pipeline.batch.chunks import MAX_ID, MIN_ID
from interest_pipeline.batch.config import EffectiveConfig
from interest_pipeline.domain import PostingFrequency, posting_due
from interest_pipeline.domain.enums import AccountType
from interest_pipeline.posting import sql as posting_sql
from interest_pipeline.settings import libpq_url
from interest_pipeline_tests.posting.fakes import RECORDED, FailingLedger, LedgerDown, RecordingLedger
from interest_pipeline_tests.posting.support import (
    ALL_TYPES,
    Book,
    DayResult,
    account_results,
    accrue_day,
    accrue_days,
    days,
    db_ledger,
    db_postings,
    oracle_ledger,
    oracle_postings,
    post_day,
    product,
)

JAN_1 = date(2025, 1, 1)
JAN_31 = date(2025, 1, 31)
FEB_28 = date(2025, 2, 28)


def effective(
    batch_size: int = 100, account_types: list[str] = ALL_TYPES, failed_first: bool = False
) -> EffectiveConfig:
    return EffectiveConfig(
        job_type="interest_posting",
        batch_size=batch_size,
        parallel_threads=1,
        max_retries=0,
        retry_interval_seconds=0,
        timeout_seconds=60,
        account_types=tuple(account_types),
        include_dormant=False,
        process_failed_first=failed_first,
        account_ids=None,
    )


def due_ids(conn: psycopg.Connection, p: date, account_types: list[str] = ALL_TYPES) -> set[int]:
    rows = conn.execute(
        f"SELECT a.id FROM accounts a JOIN interest_products p ON p.code = a.product_code"
        f" WHERE {posting_sql.SCOPE_PREDICATE} AND {posting_sql.DUE_PREDICATE}",
        {"business_date": p, "account_types": account_types, "account_ids": None},
    ).fetchall()
    return {r[0] for r in rows}


def accrual_rows(conn: psycopg.Connection, account_id: int) -> list[tuple[object, ...]]:
    return conn.execute(
        "SELECT accrual_date, status, capitalization_date, posting_id FROM interest_accruals"
        " WHERE account_id = %s ORDER BY accrual_date",
        (account_id,),
    ).fetchall()


def count(conn: psycopg.Connection, table: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
def january(conn: psycopg.Connection) -> Book:
    """The spec's worked example: MONTHLY USD, 1000.0000 at 10 % ACT/365F, 15 % tax, all January."""
    book = Book()
    book.add_account(book.add_product(product("SAV", tax="15")), 1)
    book.write(conn)
    accrue_days(conn, book, days(JAN_1, JAN_31))
    return book


class TestWorkedExample:
    def test_posting_row(self, conn: psycopg.Connection, january: Book) -> None:
        post_day(conn, JAN_31)
        row = conn.execute(
            "SELECT account_id, posting_date, idempotency_key, currency, carry_in, accrued, gross, carry_out,"
            " tax, net, withholding_tax_rate, is_final, written_off, accrual_count, first_accrual_date,"
            " last_accrual_date FROM interest_postings"
        ).fetchall()
        assert row == [
            (
                1,
                JAN_31,
                "INT-CAP-1-2025-01",
                "USD",
                Decimal("0"),
                Decimal("8.4931506837"),
                Decimal("8.49"),
                Decimal("0.0031506837"),
                Decimal("1.27"),
                Decimal("7.22"),
                Decimal("15"),
                False,
                Decimal("0"),
                31,
                JAN_1,
                JAN_31,
            )
        ]

    def test_three_ledger_lines(self, conn: psycopg.Connection, january: Book) -> None:
        post_day(conn, JAN_31)
        key = "INT-CAP-1-2025-01"
        assert db_ledger(conn) == [
            (key, 1, "INTEREST_EXPENSE", None, Decimal("8.49"), Decimal("0"), "USD", JAN_31),
            (key, 2, "CUSTOMER_DEPOSITS", 1, Decimal("0"), Decimal("7.22"), "USD", JAN_31),
            (key, 3, "WITHHOLDING_TAX_PAYABLE", None, Decimal("0"), Decimal("1.27"), "USD", JAN_31),
        ]

    def test_accruals_capitalized_with_posting_reference(
        self, conn: psycopg.Connection, january: Book
    ) -> None:
        post_day(conn, JAN_31)
        (posting_id,) = conn.execute("SELECT id FROM interest_postings").fetchone() or (None,)
        assert accrual_rows(conn, 1) == [(d, "CAPITALIZED", JAN_31, posting_id) for d in days(JAN_1, JAN_31)]

    def test_execution_id_and_success_result(self, conn: psycopg.Connection, january: Book) -> None:
        post_day(conn, JAN_31)
        row = conn.execute(
            "SELECT r.status, r.amount, r.currency, p.execution_id = r.execution_id"
            " FROM interest_batch_account_result r JOIN interest_postings p ON p.account_id = r.account_id"
            " WHERE r.job_type = 'interest_posting'"
        ).fetchall()
        assert row == [("SUCCESS", Decimal("8.49"), "USD", True)]

    def test_chunk_result_totals(self, conn: psycopg.Connection, january: Book) -> None:
        result = post_day(conn, JAN_31)
        assert (result.succeeded, result.skipped, result.failed, result.journal_lines) == (1, 0, 0, 3)
        assert result.totals == {
            "USD": posting_sql.CurrencyTotals(1, Decimal("8.49"), Decimal("1.27"), Decimal("7.22"))
        }


class TestDue:
    FREQUENCIES = [f for f in PostingFrequency if f is not PostingFrequency.AT_MATURITY]

    @pytest.fixture
    def book(self, conn: psycopg.Connection) -> Book:
        book = Book()
        for n, frequency in enumerate(PostingFrequency, start=1):
            facts = book.add_product(product(frequency.value, frequency))
            book.add_account(facts, n, maturity_date=date(2024, 8, 15) if n == 5 else None)
        plain = book.products["MONTHLY"]
        book.add_account(plain, 10, maturity_date=date(2024, 5, 10))
        book.add_account(plain, 11, closed_on=date(2024, 9, 17))
        book.write(conn)
        return book

    def test_due_set_matches_domain_every_day_of_a_leap_year(
        self, conn: psycopg.Connection, book: Book
    ) -> None:
        for p in days(date(2024, 1, 1), date(2024, 12, 31)):
            expected = {
                a.id
                for a in book.accounts
                if posting_due(a.posting_frequency, p, maturity_date=a.maturity_date, closed_on=a.closed_on)
            }
            assert due_ids(conn, p) == expected, p

    @pytest.mark.parametrize(
        ("p", "due"),
        [
            (date(2024, 1, 31), {1, 10, 11}),
            (date(2024, 2, 29), {1, 10, 11}),
            (date(2024, 3, 31), {1, 2, 10, 11}),
            # a period end after maturity (10: May 10) or closure (11: Sep 17) is none of its periods
            (date(2024, 6, 30), {1, 2, 3, 11}),
            (date(2024, 12, 31), {1, 2, 3, 4}),
            (date(2024, 8, 15), {5}),
            (date(2024, 5, 10), {10}),
            (date(2024, 9, 17), {11}),
            (date(2024, 2, 28), set()),
            (date(2024, 12, 30), set()),
        ],
    )
    def test_due_dates(self, conn: psycopg.Connection, book: Book, p: date, due: set[int]) -> None:
        assert due_ids(conn, p) == due

    def test_account_types_outside_scope_are_not_due(self, conn: psycopg.Connection, book: Book) -> None:
        assert due_ids(conn, date(2024, 12, 31), [AccountType.FIXED_DEPOSIT.value]) == set()


class TestPlanChunks:
    @pytest.fixture
    def book(self, conn: psycopg.Connection) -> Book:
        book = Book()
        monthly = book.add_product(product("M"))
        annual = book.add_product(product("A", PostingFrequency.ANNUAL))
        for account_id in (1, 2, 3, 4, 5):
            book.add_account(monthly if account_id != 3 else annual, account_id)
        book.write(conn)
        return book

    def test_only_due_accounts_are_chunked(self, conn: psycopg.Connection, book: Book) -> None:
        chunks = posting_sql.plan_chunks(conn, JAN_31, effective(batch_size=2))
        assert [(c.first_id, c.last_id, c.accounts) for c in chunks] == [
            (MIN_ID, 3, 2),
            (4, MAX_ID, 2),
        ]

    def test_a_day_with_nothing_due_is_one_empty_chunk(self, conn: psycopg.Connection, book: Book) -> None:
        chunks = posting_sql.plan_chunks(conn, date(2025, 1, 30), effective())
        assert [(c.first_id, c.last_id, c.accounts) for c in chunks] == [(MIN_ID, MAX_ID, 0)]

    def test_chunks_with_failed_accounts_go_first(self, conn: psycopg.Connection, book: Book) -> None:
        conn.execute(
            "INSERT INTO interest_batch_execution (id, job_type, business_date, trigger, status, account_types)"
            " VALUES ('x', 'interest_posting', '2024-12-31', 'MANUAL', 'RUNNING', ARRAY['SAVINGS'])"
        )
        conn.execute(
            "INSERT INTO interest_batch_account_status (account_id, job_type, last_business_date, last_status,"
            " last_execution_id, first_business_date) VALUES (5, 'interest_posting', '2024-12-31', 'FAILED', 'x', '2024-12-31')"
        )
        chunks = posting_sql.plan_chunks(conn, JAN_31, effective(batch_size=1, failed_first=True))
        assert [(c.index, c.has_failed_accounts) for c in chunks] == [
            (3, True),
            (0, False),
            (1, False),
            (2, False),
        ]


def simple_book(
    conn: psycopg.Connection, *accounts: dict[str, Any], tax: str = "0", rate: str = "10"
) -> Book:
    """One MONTHLY product at `rate` % ACT/365F; accounts 1, 2, ... with the given keyword arguments."""
    book = Book()
    facts = book.add_product(product("SAV", tax=tax), rate=rate)
    for n, kwargs in enumerate(accounts, start=1):
        book.add_account(facts, n, **kwargs)
    book.write(conn)
    return book


def run_days(conn: psycopg.Connection, book: Book, first: date, last: date) -> None:
    """Accrual then posting for every date, like the nightly jobs.

    Posting runs are left out on dates when no account of the book is due: such a run only
    records an empty execution (TestPlanChunks covers it), and skipping them keeps these fast.
    """
    for d in days(first, last):
        accrue_day(conn, book, d)
        if any(
            posting_due(a.posting_frequency, d, maturity_date=a.maturity_date, closed_on=a.closed_on)
            for a in book.accounts
        ):
            post_day(conn, d)


class TestAmounts:
    @pytest.mark.parametrize("currency", ["JPY", "KRW", "USD", "EUR", "KWD", "BHD"])
    def test_currency_minor_units_match_oracle(self, conn: psycopg.Connection, currency: str) -> None:
        book = simple_book(
            conn,
            {"currency": currency, "balance": "123456.7891"},
            {"currency": currency, "balance": "98765.4321"},
            {"currency": currency, "balance": "1234.5678"},
            tax="17.5",
            rate="3.333",
        )
        run_days(conn, book, JAN_1, date(2025, 3, 31))
        oracle = book.simulate(JAN_1, date(2025, 3, 31))
        assert db_postings(conn) == oracle_postings(oracle)
        assert db_ledger(conn) == oracle_ledger(oracle)

    def test_gross_rounded_to_zero_decimals(self, conn: psycopg.Connection) -> None:
        book = simple_book(conn, {"currency": "JPY", "balance": "100000.0000"})
        run_days(conn, book, JAN_1, JAN_31)
        # 31 x 27.3972602740 = 849.3150684940
        assert conn.execute("SELECT gross, carry_out FROM interest_postings").fetchall() == [
            (Decimal("849"), Decimal("0.3150684940"))
        ]

    def test_gross_rounded_to_three_decimals(self, conn: psycopg.Connection) -> None:
        book = simple_book(conn, {"currency": "KWD", "balance": "1000.0000"})
        run_days(conn, book, JAN_1, JAN_31)
        assert conn.execute("SELECT gross, carry_out FROM interest_postings").fetchall() == [
            (Decimal("8.493"), Decimal("0.0001506837"))
        ]

    def test_tax_zero_journal_has_two_lines(self, conn: psycopg.Connection) -> None:
        book = simple_book(conn, {"currency": "USD"})
        run_days(conn, book, JAN_1, JAN_31)
        key = "INT-CAP-1-2025-01"
        assert db_ledger(conn) == [
            (key, 1, "INTEREST_EXPENSE", None, Decimal("8.49"), Decimal("0"), "USD", JAN_31),
            (key, 2, "CUSTOMER_DEPOSITS", 1, Decimal("0"), Decimal("8.49"), "USD", JAN_31),
        ]

    def test_gross_zero_posts_row_without_journal(self, conn: psycopg.Connection) -> None:
        book = simple_book(conn, {"currency": "USD", "balance": "0.1000"})
        run_days(conn, book, JAN_1, JAN_31)
        # 31 x 0.0000273973 = 0.0008493163: rounds to 0.00, all of it carried
        assert conn.execute("SELECT gross, tax, net, carry_out FROM interest_postings").fetchall() == [
            (Decimal("0"), Decimal("0"), Decimal("0"), Decimal("0.0008493163"))
        ]
        assert count(conn, "ledger_entries") == 0
        assert {row[1] for row in accrual_rows(conn, 1)} == {"CAPITALIZED"}

    def test_carry_moves_from_month_to_month(self, conn: psycopg.Connection) -> None:
        book = simple_book(conn, {"currency": "USD", "balance": "0.1000"})
        run_days(conn, book, JAN_1, date(2025, 12, 31))
        rows = conn.execute(
            "SELECT carry_in, gross, carry_out FROM interest_postings ORDER BY posting_date"
        ).fetchall()
        assert len(rows) == 12
        assert all(rows[n + 1][0] == rows[n][2] for n in range(11))
        # 0.1000 at 10 % earns a cent in about 12 months: the carry crosses it once
        assert [r[1] for r in rows].count(Decimal("0.01")) == 1

    def test_sum_of_gross_plus_final_carry_is_sum_of_accruals(self, conn: psycopg.Connection) -> None:
        book = simple_book(
            conn, {"currency": "KWD", "balance": "777.7777", "maturity_date": date(2025, 5, 17)}
        )
        run_days(conn, book, JAN_1, date(2025, 6, 30))
        (gross,) = conn.execute("SELECT sum(gross) FROM interest_postings").fetchone() or (None,)
        (final_carry,) = conn.execute(
            "SELECT carry_out FROM interest_postings WHERE is_final"
        ).fetchone() or (None,)
        (accrued,) = conn.execute("SELECT sum(amount) FROM interest_accruals").fetchone() or (None,)
        assert gross + final_carry == accrued
        assert db_postings(conn) == oracle_postings(book.simulate(JAN_1, date(2025, 6, 30)))

    def test_net_zero_journal_leaves_out_the_customer_line(self, conn: psycopg.Connection) -> None:
        # gross 0.01 taxed at 60 % rounds the tax to the whole cent: nothing reaches the customer
        book = simple_book(conn, {"currency": "USD", "balance": "1.2000"}, tax="60")
        run_days(conn, book, JAN_1, JAN_31)
        assert conn.execute("SELECT gross, tax, net FROM interest_postings").fetchall() == [
            (Decimal("0.01"), Decimal("0.01"), Decimal("0"))
        ]
        assert [(r[1], r[2], r[4], r[5]) for r in db_ledger(conn)] == [
            (1, "INTEREST_EXPENSE", Decimal("0.01"), Decimal("0")),
            (3, "WITHHOLDING_TAX_PAYABLE", Decimal("0"), Decimal("0.01")),
        ]


class TestFinalPosting:
    def test_maturity_posts_final_and_writes_off_the_carry(self, conn: psycopg.Connection) -> None:
        book = simple_book(conn, {"currency": "USD", "maturity_date": date(2025, 2, 15)})
        run_days(conn, book, JAN_1, FEB_28)
        rows = conn.execute(
            "SELECT posting_date, is_final, carry_out, written_off FROM interest_postings ORDER BY posting_date"
        ).fetchall()
        assert [r[:2] for r in rows] == [(JAN_31, False), (date(2025, 2, 15), True)]
        assert rows[0][3] == 0
        assert rows[1][3] == rows[1][2] != 0
        assert db_postings(conn) == oracle_postings(book.simulate(JAN_1, FEB_28))

    def test_closure_posts_final(self, conn: psycopg.Connection) -> None:
        book = simple_book(conn, {"currency": "BHD", "closed_on": date(2025, 2, 10)})
        run_days(conn, book, JAN_1, FEB_28)
        assert conn.execute(
            "SELECT posting_date, is_final, accrual_count FROM interest_postings ORDER BY posting_date"
        ).fetchall() == [(JAN_31, False, 31), (date(2025, 2, 10), True, 9)]
        assert db_postings(conn) == oracle_postings(book.simulate(JAN_1, FEB_28))

    def test_month_end_after_closure_is_not_due(self, conn: psycopg.Connection) -> None:
        book = simple_book(conn, {"currency": "USD", "closed_on": date(2025, 2, 10)})
        run_days(conn, book, JAN_1, FEB_28)
        post_day(conn, FEB_28)
        assert account_results(conn, FEB_28) == {}

    def test_the_later_of_closure_and_maturity_is_no_posting_date(self, conn: psycopg.Connection) -> None:
        # 1 is closed on Feb 10 before it matures on Feb 20; 2 matures on Feb 5 and is closed on
        # Feb 25. Each ended on the earlier date, where its final posting is; the later date ends
        # nothing: not due, no result (before, a run there reported ALREADY_POSTED for them).
        book = simple_book(
            conn,
            {"currency": "USD", "closed_on": date(2025, 2, 10), "maturity_date": date(2025, 2, 20)},
            {"currency": "USD", "maturity_date": date(2025, 2, 5), "closed_on": date(2025, 2, 25)},
        )
        run_days(conn, book, JAN_1, FEB_28)
        for later in (date(2025, 2, 20), date(2025, 2, 25)):
            assert due_ids(conn, later) == set()
            post_day(conn, later)
            assert account_results(conn, later) == {}
        assert conn.execute(
            "SELECT account_id, posting_date, is_final FROM interest_postings ORDER BY account_id, posting_date"
        ).fetchall() == [
            (1, JAN_31, False),
            (1, date(2025, 2, 10), True),
            (2, JAN_31, False),
            (2, date(2025, 2, 5), True),
        ]
        assert db_postings(conn) == oracle_postings(book.simulate(JAN_1, FEB_28))

    def test_at_maturity_product_posts_only_at_maturity(self, conn: psycopg.Connection) -> None:
        book = Book()
        facts = book.add_product(
            product("TD", PostingFrequency.AT_MATURITY, account_type=AccountType.FIXED_DEPOSIT)
        )
        book.add_account(facts, 1, opened_on=date(2024, 11, 20), maturity_date=date(2025, 2, 20))
        book.write(conn)
        run_days(conn, book, date(2024, 11, 20), FEB_28)
        assert conn.execute(
            "SELECT posting_date, is_final, accrual_count FROM interest_postings"
        ).fetchall() == [(date(2025, 2, 20), True, 92)]


class TestNothingToPost:
    def test_due_account_without_accruals_is_skipped(self, conn: psycopg.Connection) -> None:
        book = simple_book(conn, {"currency": "USD", "balance": "0.0000"})
        run_days(conn, book, JAN_1, JAN_31)
        assert count(conn, "interest_postings") == 0
        assert account_results(conn, JAN_31) == {1: ("SKIPPED", posting_sql.NOTHING_TO_POST)}

    def test_accounts_not_due_get_no_result(self, conn: psycopg.Connection, january: Book) -> None:
        post_day(conn, date(2025, 1, 30))
        assert count(conn, "interest_postings") == 0
        assert account_results(conn, date(2025, 1, 30)) == {}


class TestCompleteness:
    @pytest.fixture
    def book(self, conn: psycopg.Connection) -> Book:
        return simple_book(conn, {"currency": "USD"}, {"currency": "USD"})

    def accrue_january_except(self, conn: psycopg.Connection, book: Book, *skipped: date) -> None:
        accrue_days(conn, book, [d for d in days(JAN_1, JAN_31) if d not in skipped])

    def test_missing_dates_block_the_posting_and_are_named(
        self, conn: psycopg.Connection, book: Book
    ) -> None:
        self.accrue_january_except(conn, book, date(2025, 1, 14), date(2025, 1, 15))
        post_day(conn, JAN_31)
        assert count(conn, "interest_postings") == 0
        reason = "INCOMPLETE_ACCRUALS: missing 2025-01-14, 2025-01-15"
        assert account_results(conn, JAN_31) == {1: ("FAILED", reason), 2: ("FAILED", reason)}

    def test_blocked_accruals_stay_accrued(self, conn: psycopg.Connection, book: Book) -> None:
        self.accrue_january_except(conn, book, date(2025, 1, 14))
        post_day(conn, JAN_31)
        assert {row[1:] for row in accrual_rows(conn, 1)} == {("ACCRUED", None, None)}
        assert count(conn, "ledger_entries") == 0

    def test_long_runs_of_dates_are_compacted(self, conn: psycopg.Connection, book: Book) -> None:
        self.accrue_january_except(conn, book, *days(date(2025, 1, 10), date(2025, 1, 20)), date(2025, 1, 25))
        post_day(conn, JAN_31)
        assert account_results(conn, JAN_31)[1] == (
            "FAILED",
            "INCOMPLETE_ACCRUALS: missing 2025-01-10..2025-01-20, 2025-01-25",
        )

    def test_latest_failed_result_blocks_only_that_account(
        self, conn: psycopg.Connection, book: Book
    ) -> None:
        for d in days(JAN_1, JAN_31):
            accrue_day(conn, book, d, fail={1} if d == date(2025, 1, 20) else ())
        post_day(conn, JAN_31)
        assert account_results(conn, JAN_31) == {
            1: ("FAILED", "INCOMPLETE_ACCRUALS: failed 2025-01-20"),
            2: ("SUCCESS", None),
        }

    def test_missing_and_failed_are_both_named(self, conn: psycopg.Connection, book: Book) -> None:
        for d in days(JAN_1, JAN_31):
            if d not in (date(2025, 1, 14), date(2025, 1, 15)):
                accrue_day(conn, book, d, fail={1} if d == date(2025, 1, 20) else ())
        post_day(conn, JAN_31)
        assert account_results(conn, JAN_31)[1] == (
            "FAILED",
            "INCOMPLETE_ACCRUALS: missing 2025-01-14, 2025-01-15; failed 2025-01-20",
        )

    def test_a_later_successful_run_repairs_a_failed_date(self, conn: psycopg.Connection, book: Book) -> None:
        for d in days(JAN_1, JAN_31):
            accrue_day(conn, book, d, fail={1} if d == date(2025, 1, 20) else ())
        post_day(conn, JAN_31)
        accrue_day(conn, book, date(2025, 1, 20))
        post_day(conn, JAN_31)
        assert account_results(conn, JAN_31) == {
            1: ("SUCCESS", None),
            2: ("SKIPPED", posting_sql.ALREADY_POSTED),
        }
        assert db_postings(conn) == oracle_postings(book.simulate(JAN_1, JAN_31))

    def test_repairing_missing_dates_lets_the_rerun_post_them(
        self, conn: psycopg.Connection, book: Book
    ) -> None:
        self.accrue_january_except(conn, book, date(2025, 1, 14), date(2025, 1, 15))
        post_day(conn, JAN_31)
        accrue_days(conn, book, [date(2025, 1, 14), date(2025, 1, 15)])
        post_day(conn, JAN_31)
        assert db_postings(conn) == oracle_postings(book.simulate(JAN_1, JAN_31))

    def test_next_due_date_after_repair_makes_the_blocked_posting_first(
        self, conn: psycopg.Connection, book: Book
    ) -> None:
        self.accrue_january_except(conn, book, date(2025, 1, 14))
        post_day(conn, JAN_31)
        accrue_days(conn, book, [date(2025, 1, 14), *days(date(2025, 2, 1), FEB_28)])
        post_day(conn, FEB_28)
        assert conn.execute(
            "SELECT posting_date, made_on, accrual_count, first_accrual_date, idempotency_key"
            " FROM interest_postings WHERE account_id = 1 ORDER BY posting_date"
        ).fetchall() == [
            (JAN_31, FEB_28, 31, JAN_1, "INT-CAP-1-2025-01"),
            (FEB_28, FEB_28, 28, date(2025, 2, 1), "INT-CAP-1-2025-02"),
        ]
        assert db_postings(conn) == oracle_postings(book.simulate(JAN_1, FEB_28))

    def test_a_scoped_repair_run_covers_its_accounts(self, conn: psycopg.Connection, book: Book) -> None:
        self.accrue_january_except(conn, book, date(2025, 1, 14))
        accrue_day(conn, book, date(2025, 1, 14), account_ids=[1])
        post_day(conn, JAN_31)
        assert account_results(conn, JAN_31) == {
            1: ("SUCCESS", None),
            2: ("FAILED", "INCOMPLETE_ACCRUALS: missing 2025-01-14"),
        }

    @pytest.mark.parametrize("status", ["RUNNING", "FAILED", "CANCELLED"])
    def test_an_unfinished_run_does_not_count(
        self, conn: psycopg.Connection, book: Book, status: str
    ) -> None:
        self.accrue_january_except(conn, book, date(2025, 1, 14))
        accrue_day(conn, book, date(2025, 1, 14), status=status)
        post_day(conn, JAN_31)
        assert account_results(conn, JAN_31)[1] == ("FAILED", "INCOMPLETE_ACCRUALS: missing 2025-01-14")

    def test_partial_run_counts_as_finished(self, conn: psycopg.Connection, book: Book) -> None:
        self.accrue_january_except(conn, book, date(2025, 1, 14))
        accrue_day(conn, book, date(2025, 1, 14), status="PARTIAL")
        post_day(conn, JAN_31)
        assert account_results(conn, JAN_31)[1] == ("SUCCESS", None)

    def test_a_run_for_other_account_types_does_not_cover(self, conn: psycopg.Connection, book: Book) -> None:
        self.accrue_january_except(conn, book, date(2025, 1, 14))
        accrue_day(conn, book, date(2025, 1, 14), account_types=["FIXED_DEPOSIT"])
        post_day(conn, JAN_31)
        assert account_results(conn, JAN_31)[1] == ("FAILED", "INCOMPLETE_ACCRUALS: missing 2025-01-14")

    def test_dates_before_the_first_accrual_result_are_not_required(
        self, conn: psycopg.Connection, book: Book
    ) -> None:
        accrue_days(conn, book, days(date(2025, 1, 10), JAN_31))
        post_day(conn, JAN_31)
        assert account_results(conn, JAN_31) == {1: ("SUCCESS", None), 2: ("SUCCESS", None)}

    def test_dates_before_the_previous_posting_are_not_rechecked(
        self, conn: psycopg.Connection, book: Book
    ) -> None:
        accrue_days(conn, book, days(JAN_1, FEB_28))
        post_day(conn, JAN_31)
        # a January run re-recorded as FAILED after January was posted no longer blocks anything
        accrue_day(conn, book, date(2025, 1, 20), fail={1})
        post_day(conn, FEB_28)
        assert account_results(conn, FEB_28)[1] == ("SUCCESS", None)

    def test_failed_posting_counts_in_account_status(self, conn: psycopg.Connection, book: Book) -> None:
        self.accrue_january_except(conn, book, date(2025, 1, 14))
        post_day(conn, JAN_31)
        post_day(conn, JAN_31)
        accrue_day(conn, book, date(2025, 1, 14))
        before = conn.execute(
            "SELECT last_status, consecutive_failures, last_success_date FROM interest_batch_account_status"
            " WHERE account_id = 1 AND job_type = 'interest_posting'"
        ).fetchone()
        post_day(conn, JAN_31)
        after = conn.execute(
            "SELECT last_status, consecutive_failures, last_success_date FROM interest_batch_account_status"
            " WHERE account_id = 1 AND job_type = 'interest_posting'"
        ).fetchone()
        assert (before, after) == (("FAILED", 1, None), ("SUCCESS", 0, JAN_31))


class TestIdempotency:
    @pytest.fixture
    def book(self, conn: psycopg.Connection) -> Book:
        book = simple_book(
            conn,
            *(
                {"currency": c, "balance": f"{1000 + n}.1234"}
                for n, c in enumerate(["USD", "KWD", "JPY"] * 8)
            ),
            tax="15",
        )
        accrue_days(conn, book, days(JAN_1, JAN_31))
        return book

    def snapshot(self, conn: psycopg.Connection) -> tuple[object, ...]:
        return (
            conn.execute("SELECT id, idempotency_key, gross FROM interest_postings ORDER BY id").fetchall(),
            db_ledger(conn),
            conn.execute(
                "SELECT account_id, accrual_date, status, posting_id FROM interest_accruals ORDER BY 1, 2"
            ).fetchall(),
        )

    def test_rerun_posts_nothing_new(self, conn: psycopg.Connection, book: Book) -> None:
        post_day(conn, JAN_31, batch_size=5)
        before = self.snapshot(conn)
        again = post_day(conn, JAN_31, batch_size=7)
        assert self.snapshot(conn) == before
        assert (again.succeeded, again.skipped, again.journal_lines, again.totals) == (0, 24, 0, {})
        assert set(account_results(conn, JAN_31).values()) == {("SKIPPED", posting_sql.ALREADY_POSTED)}

    def test_two_concurrent_runs_post_each_key_once(
        self, conn: psycopg.Connection, book: Book, clean_db: URL
    ) -> None:
        barrier = threading.Barrier(2)
        results: list[DayResult] = []
        errors: list[BaseException] = []

        def run() -> None:
            try:
                with psycopg.connect(libpq_url(clean_db), autocommit=True) as own:
                    barrier.wait()
                    results.append(post_day(own, JAN_31, batch_size=3))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert sum(r.succeeded for r in results) == 24
        assert sum(r.skipped for r in results) == 24
        assert db_postings(conn) == oracle_postings(book.simulate(JAN_1, JAN_31))
        assert db_ledger(conn) == oracle_ledger(book.simulate(JAN_1, JAN_31))

    def test_failure_on_second_chunk_keeps_the_first(self, conn: psycopg.Connection, book: Book) -> None:
        # 12 due accounts in chunks of at most 6: accounts 1-6, then 7-12
        with pytest.raises(LedgerDown):
            post_day(conn, JAN_31, batch_size=6, ledger=FailingLedger(fail_for_account_id=7))
        assert conn.execute(
            "SELECT array_agg(account_id ORDER BY account_id) FROM interest_postings"
        ).fetchone() == ([1, 2, 3, 4, 5, 6],)
        assert conn.execute("SELECT count(DISTINCT journal_key) FROM ledger_entries").fetchone() == (6,)

    def test_failed_chunk_rolls_back_postings_journals_and_capitalization(
        self, conn: psycopg.Connection, book: Book
    ) -> None:
        with pytest.raises(LedgerDown):
            post_day(conn, JAN_31, batch_size=6, ledger=FailingLedger(fail_for_account_id=7))
        assert {row[1:] for row in accrual_rows(conn, 7)} == {("ACCRUED", None, None)}
        assert conn.execute(
            "SELECT count(*) FROM interest_batch_account_result WHERE job_type = 'interest_posting'"
            " AND account_id BETWEEN 7 AND 12"
        ).fetchone() == (0,)

    def test_rerun_after_failure_ends_as_a_clean_run(self, conn: psycopg.Connection, book: Book) -> None:
        with pytest.raises(LedgerDown):
            post_day(conn, JAN_31, batch_size=5, ledger=FailingLedger(fail_for_account_id=7))
        post_day(conn, JAN_31, batch_size=5)
        oracle = book.simulate(JAN_1, JAN_31)
        assert db_postings(conn) == oracle_postings(oracle)
        assert db_ledger(conn) == oracle_ledger(oracle)
        assert conn.execute("SELECT count(*) FROM interest_accruals WHERE status = 'ACCRUED'").fetchone() == (
            0,
        )


class TestLedgerInterface:
    def test_journals_handed_to_the_ledger_carry_the_idempotency_key(
        self, conn: psycopg.Connection, january: Book
    ) -> None:
        RECORDED.pop("interface", None)
        post_day(conn, JAN_31, ledger=RecordingLedger(recorder="interface"))
        assert [
            (line.journal_key, line.line_no, line.debit, line.credit) for line in RECORDED["interface"]
        ] == [
            ("INT-CAP-1-2025-01", 1, Decimal("8.49"), Decimal("0")),
            ("INT-CAP-1-2025-01", 2, Decimal("0"), Decimal("7.22")),
            ("INT-CAP-1-2025-01", 3, Decimal("0"), Decimal("1.27")),
        ]
        assert count(conn, "ledger_entries") == 0

    def test_every_journal_balances(self, conn: psycopg.Connection) -> None:
        book = simple_book(
            conn,
            *(
                {"currency": c, "balance": f"{5000 + 37 * n}.5"}
                for n, c in enumerate(["USD", "BHD", "KRW"] * 5)
            ),
            tax="12.5",
        )
        run_days(conn, book, JAN_1, date(2025, 3, 31))
        unbalanced = conn.execute(
            "SELECT journal_key FROM ledger_entries GROUP BY journal_key HAVING sum(debit) <> sum(credit)"
        ).fetchall()
        assert (count(conn, "ledger_entries"), unbalanced) == (15 * 3 * 3, [])


class TestAccrualWritersAndPostings:
    """A posting capitalizes the rows written before it (write_seq): it waits for accrual writers
    in flight, and holds new ones off until it commits (db/capitalization.py)."""

    def test_a_posting_waits_for_an_accrual_in_flight_and_takes_its_row(
        self, conn: psycopg.Connection, january: Book, clean_db: URL
    ) -> None:
        writer = psycopg.connect(libpq_url(clean_db))
        try:
            # An accrual re-run's transaction, not yet committed: a missing night, back-dated.
            writer.execute(
                "INSERT INTO interest_accrual_entries (account_id, accrual_date, balance, amount)"
                " VALUES (1, '2024-12-31', 1000, 0.2739726027)"
            )
            posted: list[DayResult] = []
            poster = threading.Thread(target=lambda: posted.append(post_day(conn, JAN_31)))
            poster.start()
            poster.join(timeout=3)
            assert poster.is_alive()  # waiting on the accrual writer's lock
            assert writer.execute(
                "SELECT count(*) FROM pg_locks WHERE relation = 'interest_accrual_entries'::regclass"
                " AND mode = 'ShareLock' AND NOT granted"
            ).fetchone() == (1,)
            writer.commit()
            poster.join(timeout=60)
        finally:
            writer.close()
        assert [p.succeeded for p in posted] == [1]
        [(accrued, accrual_count, first)] = conn.execute(
            "SELECT accrued, accrual_count, first_accrual_date FROM interest_postings"
        ).fetchall()
        # January's 31 nights (8.4931506837, spec example) and the night of Dec 31
        assert (accrued, accrual_count, first) == (Decimal("8.7671232864"), 32, date(2024, 12, 31))
        assert {row[:2] for row in accrual_rows(conn, 1)} == {
            (d, "CAPITALIZED") for d in [date(2024, 12, 31), *days(JAN_1, JAN_31)]
        }

    def test_an_accrual_written_while_a_posting_runs_waits_and_goes_into_the_next_posting(
        self, conn: psycopg.Connection, january: Book, clean_db: URL
    ) -> None:
        holder = psycopg.connect(libpq_url(clean_db))
        try:
            # What a posting chunk holds from its first statement to its commit.
            holder.execute("LOCK TABLE interest_accrual_entries IN SHARE MODE")
            written: list[int] = []

            def write() -> None:
                with psycopg.connect(libpq_url(clean_db), autocommit=True) as writer:
                    written.append(
                        writer.execute(
                            "INSERT INTO interest_accrual_entries (account_id, accrual_date, balance, amount)"
                            " VALUES (1, '2024-12-31', 1000, 0.2739726027) RETURNING write_seq"
                        ).fetchone()[0]  # type: ignore[index]
                    )

            writer = threading.Thread(target=write)
            writer.start()
            writer.join(timeout=3)
            assert writer.is_alive() and written == []  # held off
            [[held_seq]] = holder.execute("SELECT nextval('interest_write_seq')").fetchall()
            holder.commit()
            writer.join(timeout=60)
        finally:
            holder.close()
        assert written and written[0] > held_seq  # written after: later on the clock
        post_day(conn, JAN_31)  # made after the row was written: takes it
        assert conn.execute("SELECT accrued, accrual_count FROM interest_postings").fetchall() == [
            (Decimal("8.7671232864"), 32)
        ]

    def test_a_back_dated_row_written_after_the_posting_goes_into_the_next_one(
        self, conn: psycopg.Connection, january: Book
    ) -> None:
        post_day(conn, JAN_31)
        conn.execute(
            "INSERT INTO interest_accrual_entries (account_id, accrual_date, balance, amount)"
            " VALUES (1, '2024-12-31', 1000, 0.2739726027)"
        )
        accrue_days(conn, january, days(date(2025, 2, 1), date(2025, 2, 28)))
        post_day(conn, date(2025, 2, 28))
        rows = conn.execute(
            "SELECT posting_date, accrual_count, first_accrual_date, last_accrual_date FROM interest_postings"
            " ORDER BY posting_date"
        ).fetchall()
        assert rows == [
            (JAN_31, 31, JAN_1, JAN_31),
            (date(2025, 2, 28), 29, date(2024, 12, 31), date(2025, 2, 28)),
        ]
        [[february_id]] = conn.execute(
            "SELECT id FROM interest_postings WHERE posting_date = '2025-02-28'"
        ).fetchall()
        assert conn.execute(
            "SELECT status, capitalization_date, posting_id FROM interest_accruals"
            " WHERE account_id = 1 AND accrual_date = '2024-12-31'"
        ).fetchone() == ("CAPITALIZED", date(2025, 2, 28), february_id)

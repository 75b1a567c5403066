"""The accruals' month partitions (migration 0015, db/partitions.py), and the back-dated rows the
database records for the account's next posting (spec section 5), whoever writes them."""

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import psycopg
import pytest

from interest_pipeline.db.capitalization import pending_rows, posting_checked_through, previous_posting
from interest_pipeline.db.partitions import DEFAULT_PARTITION, ensure_month_partitions, partition_name
from interest_pipeline.resources.database import DatabaseResource
from interest_pipeline_tests.checks.books import ACCOUNTS, write_book
from interest_pipeline_tests.posting.support import (
    Book,
    accrue_day,
    accrue_with_the_job,
    days,
    post_day,
    product,
)
from interest_pipeline_tests.support.plans import plan_nodes

# Months no other test writes: the partitions created here are dropped before and after.
MAY_2031, JUNE_2031 = date(2031, 5, 1), date(2031, 6, 1)
MARCH_2032, APRIL_2032 = date(2032, 3, 1), date(2032, 4, 1)
FAR_MONTHS = (MAY_2031, JUNE_2031, MARCH_2032, APRIL_2032)

BY_PARTITION = """
SELECT tableoid::regclass::text, count(*) FROM interest_accrual_entries GROUP BY 1 ORDER BY 1
"""
VIEW_ROWS = "SELECT * FROM interest_accruals ORDER BY account_id, accrual_date"
BACKDATED = "SELECT account_id, accrual_date FROM interest_accrual_backdated ORDER BY 1, 2"


POSTINGS_OF = (
    "SELECT account_id, accrued, accrual_count, first_accrual_date FROM interest_postings"
    " WHERE posting_date = %s ORDER BY account_id"
)
ROW_STATUS = (
    "SELECT status, capitalization_date FROM interest_accruals WHERE account_id = %s AND accrual_date = %s"
)


def partitions_read(conn: psycopg.Connection, query: str) -> list[tuple[str, int]]:
    """The accrual partitions `query` reads (EXPLAIN ANALYZE: those run at least once), with the
    rows each returned."""
    [[explained]] = conn.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {query}").fetchall()
    return sorted(
        (str(n["Relation Name"]), int(n["Actual Rows"]))
        for n in plan_nodes(explained[0]["Plan"])
        if str(n.get("Relation Name", "")).startswith("interest_accrual_entries") and n["Actual Loops"]
    )


def partitions(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'interest_accrual_entries'::regclass"
    ).fetchall()
    return {name for (name,) in rows}


@pytest.fixture
def far(conn: psycopg.Connection) -> Iterator[psycopg.Connection]:
    def drop() -> None:
        for month in FAR_MONTHS:
            conn.execute(f"DROP TABLE IF EXISTS {partition_name(month)}")

    drop()
    yield conn
    conn.execute("TRUNCATE interest_accrual_entries")
    drop()


class TestMonthPartitions:
    def test_a_row_of_a_month_without_a_partition_waits_in_the_default_and_moves_when_it_is_made(
        self, far: psycopg.Connection
    ) -> None:
        conn = far
        book = write_book(conn)
        accrue_day(conn, book, date(2031, 5, 10))
        accrue_day(conn, book, date(2031, 6, 2))
        assert conn.execute(BY_PARTITION).fetchall() == [(DEFAULT_PARTITION, 2 * ACCOUNTS)]
        before = conn.execute(VIEW_ROWS).fetchall()

        with conn.transaction():
            made = ensure_month_partitions(conn, date(2031, 5, 10), date(2031, 6, 1))
        assert made == [partition_name(MAY_2031), partition_name(JUNE_2031)]
        assert conn.execute(BY_PARTITION).fetchall() == [
            ("interest_accrual_entries_y2031m05", ACCOUNTS),
            ("interest_accrual_entries_y2031m06", ACCOUNTS),
        ]
        assert conn.execute(VIEW_ROWS).fetchall() == before
        [[options]] = conn.execute(
            "SELECT reloptions FROM pg_class WHERE relname = 'interest_accrual_entries_y2031m05'"
        ).fetchall()
        assert sorted(options) == [
            "autovacuum_vacuum_insert_scale_factor=0",
            "autovacuum_vacuum_insert_threshold=500000",
        ]
        # the key holds across partitions: the same row again is a conflict, not a second row
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(
                "INSERT INTO interest_accrual_entries (account_id, accrual_date, balance, amount)"
                " VALUES (1, '2031-05-10', 1, 0)"
            )

        # once made, nothing to do and no lock taken: the advisory lock is only for making one
        with conn.transaction():
            assert ensure_month_partitions(conn, date(2031, 5, 10), date(2031, 6, 1)) == []
            assert conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
            ).fetchone() == (0,)

    def test_the_accrual_job_makes_the_month_of_its_date_and_the_next_before_it_writes(
        self, far: psycopg.Connection
    ) -> None:
        conn = far
        write_book(conn)
        assert partition_name(MARCH_2032) not in partitions(conn)
        accrue_with_the_job(DatabaseResource(), date(2032, 3, 31), "accrual-2032-03-31", batch_size=10)
        assert {partition_name(MARCH_2032), partition_name(APRIL_2032)} <= partitions(conn)
        # the zero balance (account 99) has no row
        assert conn.execute(BY_PARTITION).fetchall() == [("interest_accrual_entries_y2032m03", ACCOUNTS)]


JAN_1, JAN_10, JAN_31, FEB_28 = date(2025, 1, 1), date(2025, 1, 10), date(2025, 1, 31), date(2025, 2, 28)
FEB = "'2025-02-28'::date"


@pytest.fixture
def book_with_a_gap(conn: psycopg.Connection) -> Book:
    """Two accounts at 3.65 % (0.1 a night on 1,000); account 2's balance was 0 on January 10th."""
    book = Book()
    facts = book.add_product(product("SAV"), rate="3.65")
    book.add_account(facts, 1, balance="1000.0000")
    book.add_account(facts, 2, balance="1000.0000")
    book.balances[2] += [(JAN_10, Decimal("0.0000")), (date(2025, 1, 11), Decimal("1000.0000"))]
    book.write(conn)
    return book


class TestBackDatedRows:
    def test_a_correction_re_run_after_the_posting_is_recorded_and_goes_into_the_next_posting(
        self, conn: psycopg.Connection, book_with_a_gap: Book
    ) -> None:
        database = DatabaseResource()
        for d in days(JAN_1, JAN_31):
            accrue_with_the_job(database, d, f"accrual-{d}")
        assert post_day(conn, JAN_31).succeeded == 2
        # the nights after every posting: nothing recorded
        assert conn.execute(BACKDATED).fetchall() == []

        # January 10th's balance corrected after the posting; the accrual of that date re-run
        conn.execute(
            "UPDATE account_balances SET closing_balance = 1000 WHERE account_id = 2 AND balance_date = %s",
            (JAN_10,),
        )
        accrue_with_the_job(database, JAN_10, "accrual-2025-01-10-rerun")
        assert conn.execute(BACKDATED).fetchall() == [
            (2, JAN_10)
        ]  # account 1's row is capitalized: untouched
        assert conn.execute(
            "SELECT status, amount FROM interest_accruals WHERE account_id = 2 AND accrual_date = %s",
            (JAN_10,),
        ).fetchone() == ("ACCRUED", Decimal("0.1000000000"))

        for d in days(date(2025, 2, 1), FEB_28):
            accrue_with_the_job(database, d, f"accrual-{d}")
        assert conn.execute(BACKDATED).fetchall() == [(2, JAN_10)]
        assert post_day(conn, FEB_28).succeeded == 2
        assert conn.execute(POSTINGS_OF, (FEB_28,)).fetchall() == [
            (1, Decimal("2.8000000000"), 28, date(2025, 2, 1)),
            (2, Decimal("2.9000000000"), 29, JAN_10),
        ]
        # capitalized by that posting: no later posting takes it again
        assert conn.execute(ROW_STATUS, (2, JAN_10)).fetchone() == ("CAPITALIZED", FEB_28)

    def test_a_row_written_by_hand_through_the_view_is_recorded_too(
        self, conn: psycopg.Connection, book_with_a_gap: Book
    ) -> None:
        for d in days(JAN_1, JAN_31):
            accrue_day(conn, book_with_a_gap, d)
        post_day(conn, JAN_31)
        # dated on or before the posting: back-dated, whoever writes it
        conn.execute(
            "INSERT INTO interest_accruals (account_id, accrual_date, balance, amount)"
            " VALUES (2, '2025-01-10', 1000, 0.1), (1, '2024-12-31', 1000, 0.1)"
        )
        # dated after it: the next posting's by date, not recorded
        conn.execute(
            "INSERT INTO interest_accruals (account_id, accrual_date, balance, amount) VALUES (1, '2025-02-01', 1000, 0.1)"
        )
        assert conn.execute(BACKDATED).fetchall() == [(1, date(2024, 12, 31)), (2, JAN_10)]
        # an upsert of a recorded row (an UPDATE event) keeps the one record
        conn.execute(
            "INSERT INTO interest_accrual_entries (account_id, accrual_date, balance, amount)"
            " VALUES (2, '2025-01-10', 2000, 0.2) ON CONFLICT (account_id, accrual_date)"
            " DO UPDATE SET amount = excluded.amount, balance = excluded.balance"
        )
        assert conn.execute(BACKDATED).fetchall() == [(1, date(2024, 12, 31)), (2, JAN_10)]
        for d in days(date(2025, 2, 1), FEB_28):
            accrue_day(conn, book_with_a_gap, d)

        # What the posting reads for account 2: February's rows from February's partition, the
        # recorded row by its key in January's, no other month touched (spec section 5's rows, by
        # the statement the posting and the checks share)
        pending = pending_rows("p.account_id", "'2025-02-28'::date", "p.posting_date", "p.write_seq")
        query = (
            "SELECT sum(x.amount), count(*), min(x.accrual_date) FROM interest_postings p"
            f" CROSS JOIN LATERAL ({pending}) x WHERE p.account_id = 2"
        )
        assert conn.execute(query).fetchone() == (Decimal("3.0000000000"), 29, JAN_10)
        assert partitions_read(conn, query) == [
            ("interest_accrual_entries_y2025m01", 1),
            ("interest_accrual_entries_y2025m02", 28),
        ]

        post_day(conn, FEB_28)
        assert conn.execute(POSTINGS_OF, (FEB_28,)).fetchall() == [
            (1, Decimal("2.9000000000"), 29, date(2024, 12, 31)),
            (2, Decimal("3.0000000000"), 29, JAN_10),
        ]


@pytest.fixture
def book_never_posted(conn: psycopg.Connection) -> Book:
    """Account 1 at 3.65 % on 1,000 (0.1 a night); account 2 the same product with nothing in it
    all January (no row, nothing to post on the 31st), 1,000 from February 1st."""
    book = Book()
    facts = book.add_product(product("SAV"), rate="3.65")
    book.add_account(facts, 1, balance="1000.0000")
    book.add_account(facts, 2, balance="0.0000")
    book.balances[2] += [
        (JAN_10, Decimal("0.0000")),
        (date(2025, 1, 11), Decimal("0.0000")),
        (date(2025, 2, 1), Decimal("1000.0000")),
    ]
    book.write(conn)
    return book


class TestCheckedThrough:
    """Migration 0016: a posting run that found nothing pending for an account bounds the months
    the next one reads for it; a row dated before that run's date and written after it is recorded
    and posted all the same."""

    def test_a_row_written_after_a_run_found_nothing_to_post_is_recorded_and_posted_next(
        self, conn: psycopg.Connection, book_never_posted: Book
    ) -> None:
        database = DatabaseResource()
        for d in days(JAN_1, JAN_31):
            accrue_with_the_job(database, d, f"accrual-{d}")
        january = post_day(conn, JAN_31)
        assert (january.succeeded, january.skipped) == (1, 1)
        assert conn.execute(
            "SELECT last_business_date, last_status FROM interest_batch_account_status"
            " WHERE account_id = 2 AND job_type = 'interest_posting'"
        ).fetchone() == (JAN_31, "SKIPPED")
        assert conn.execute(BACKDATED).fetchall() == []

        # January 10th's balance corrected after that run; the accrual of that date re-run: account
        # 2 has no posting, yet its row is recorded (dated on or before its SKIPPED run)
        conn.execute(
            "UPDATE account_balances SET closing_balance = 1000 WHERE account_id = 2 AND balance_date = %s",
            (JAN_10,),
        )
        accrue_with_the_job(database, JAN_10, "accrual-2025-01-10-rerun")
        assert conn.execute(BACKDATED).fetchall() == [(2, JAN_10)]
        for d in days(date(2025, 2, 1), FEB_28):
            accrue_with_the_job(database, d, f"accrual-{d}")
        assert conn.execute(BACKDATED).fetchall() == [(2, JAN_10)]  # February's nights: none

        # What a posting of February 28th reads for account 2: February's partition by date, the
        # recorded row by its key in January's, no other month (nor the default partition)
        query = (
            "SELECT sum(x.amount), count(*), min(x.accrual_date) FROM accounts a"
            f" LEFT JOIN LATERAL ({previous_posting('a.id', FEB)}) prev ON true"
            f" LEFT JOIN LATERAL ({posting_checked_through('a.id', FEB)}) chk ON true"
            " CROSS JOIN LATERAL ("
            + pending_rows(
                "a.id", FEB, "prev.posting_date", "prev.write_seq", checked_through="chk.checked_through"
            )
            + ") x WHERE a.id = 2"
        )
        assert conn.execute(query).fetchone() == (Decimal("2.9000000000"), 29, JAN_10)
        assert partitions_read(conn, query) == [
            ("interest_accrual_entries_y2025m01", 1),
            ("interest_accrual_entries_y2025m02", 28),
        ]

        assert post_day(conn, FEB_28).succeeded == 2
        assert conn.execute(POSTINGS_OF, (FEB_28,)).fetchall() == [
            (1, Decimal("2.8000000000"), 28, date(2025, 2, 1)),
            (2, Decimal("2.9000000000"), 29, JAN_10),
        ]
        assert conn.execute(ROW_STATUS, (2, JAN_10)).fetchone() == ("CAPITALIZED", FEB_28)

    def test_a_blocked_run_bounds_nothing(self, conn: psycopg.Connection, book_never_posted: Book) -> None:
        # January 10th never accrued: the 31st's posting is blocked for both accounts (FAILED),
        # account 2's too though it has nothing to post, so neither run bounds a later posting
        for d in days(JAN_1, JAN_31):
            if d != JAN_10:
                accrue_day(conn, book_never_posted, d)
        assert (
            conn.execute(
                "SELECT account_id, last_status FROM interest_batch_account_status"
                " WHERE job_type = 'interest_posting' ORDER BY 1"
            ).fetchall()
            == []
        )
        january = post_day(conn, JAN_31)
        assert (january.succeeded, january.failed, january.skipped) == (0, 2, 0)
        bounds = conn.execute(
            f"SELECT a.id, chk.checked_through FROM accounts a"
            f" LEFT JOIN LATERAL ({posting_checked_through('a.id', FEB)}) chk ON true ORDER BY a.id"
        ).fetchall()
        assert bounds == [(1, None), (2, None)]
        # repaired: the February posting makes account 1's owed January posting from all its rows
        accrue_day(conn, book_never_posted, JAN_10)
        for d in days(date(2025, 2, 1), FEB_28):
            accrue_day(conn, book_never_posted, d)
        post_day(conn, FEB_28)
        assert conn.execute(
            "SELECT account_id, posting_date, accrual_count, first_accrual_date FROM interest_postings"
            " ORDER BY account_id, posting_date"
        ).fetchall() == [
            (1, JAN_31, 31, JAN_1),
            (1, FEB_28, 28, date(2025, 2, 1)),
            (2, FEB_28, 28, date(2025, 2, 1)),
        ]

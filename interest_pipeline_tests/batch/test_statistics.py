"""A run refreshes the planner statistics of the tables it reads when they have drifted, as
autovacuum would, so a server where autovacuum is off or behind does not leave it planning blind.

This machine's PostgreSQL runs with autovacuum off, so nothing here races an autoanalyze."""

import time
from collections.abc import Iterator
from datetime import date

import psycopg
import pytest

from interest_pipeline.batch.config import BatchRunConfig
from interest_pipeline.batch.lifecycle import start_batch
from interest_pipeline.data.generate import generate_book
from interest_pipeline.data.statistics import (
    ANALYZE_SCALE_PERCENT,
    ANALYZE_THRESHOLD,
    BATCH_TABLES,
    refresh_stale_statistics,
    stale_tables,
)
from interest_pipeline.posting.lifecycle import unknown_run
from interest_pipeline.resources.database import DatabaseResource
from interest_pipeline_tests.posting.support import accrue_with_the_job

ACCOUNTS = 240
START = date(2025, 1, 1)

ANALYZED = """
SELECT s.analyze_count + s.autoanalyze_count, c.reltuples::bigint
  FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
 WHERE s.schemaname = current_schema() AND s.relname = %s
"""


def flushed(conn: psycopg.Connection) -> None:
    """This backend's table counters published now, not up to a second later (PostgreSQL 15)."""
    conn.execute("SELECT pg_stat_force_next_flush()")
    conn.execute("SELECT 1")


def analyzed(conn: psycopg.Connection, table: str) -> tuple[int, int]:
    """(times analyzed, rows the planner believes the table holds)."""
    conn.execute("SELECT pg_stat_clear_snapshot()")
    row = conn.execute(ANALYZED, (table,)).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def all_analyzed(conn: psycopg.Connection) -> None:
    flushed(conn)  # the book's own writes counted before the ANALYZE that forgives them
    conn.execute(f"ANALYZE {', '.join(BATCH_TABLES)}")
    flushed(conn)


@pytest.fixture
def book(conn: psycopg.Connection) -> psycopg.Connection:
    generate_book(conn, accounts=ACCOUNTS, start=START, days=10, seed=3)
    all_analyzed(conn)
    return conn


PROBE = "statistics_probe"


@pytest.fixture
def probe(conn: psycopg.Connection) -> Iterator[psycopg.Connection]:
    """`conn` with an empty table of its own, created now: never analyzed, nothing counted."""
    conn.execute(f"CREATE TABLE {PROBE} (id integer)")
    try:
        yield conn
    finally:
        conn.execute(f"DROP TABLE {PROBE}")


def start_accrual(d: date) -> int:
    tasks = start_batch(
        DatabaseResource(),
        job_type="daily_interest_accrual",
        run_id=f"statistics-{d}",
        business_date=d,
        trigger="MANUAL",
        run_config=BatchRunConfig(batch_size=100),
        run_state=unknown_run,
    )
    return len(tasks)


class TestStaleTables:
    def test_fresh_tables_are_left_alone(self, book: psycopg.Connection) -> None:
        assert stale_tables(book) == []
        before = analyzed(book, "accounts")
        with book.transaction():
            assert refresh_stale_statistics(book) == []
        assert analyzed(book, "accounts") == before

    def test_a_table_past_autovacuums_trigger_is_analyzed_and_one_below_it_is_not(
        self, book: psycopg.Connection
    ) -> None:
        count, rows = analyzed(book, "accounts")
        assert rows == ACCOUNTS
        # autovacuum's trigger for 240 rows: 50 + 0.1 * 240 = 74 changes
        trigger = ANALYZE_THRESHOLD + ANALYZE_SCALE_PERCENT * ACCOUNTS // 100
        assert trigger == 74
        book.execute("UPDATE accounts SET rate_override = rate_override WHERE id <= 74")
        flushed(book)
        assert stale_tables(book) == []
        book.execute("UPDATE accounts SET rate_override = rate_override WHERE id = 75")
        flushed(book)
        assert stale_tables(book) == ["accounts"]
        with book.transaction():
            assert refresh_stale_statistics(book) == ["accounts"]
        flushed(book)
        assert analyzed(book, "accounts") == (count + 1, ACCOUNTS)
        assert stale_tables(book) == []

    def test_a_table_never_analyzed_is_analyzed_once_it_has_changed(self, probe: psycopg.Connection) -> None:
        assert stale_tables(probe, [PROBE]) == []  # nothing in it yet
        probe.execute(f"INSERT INTO {PROBE} VALUES (1)")
        flushed(probe)
        assert stale_tables(probe, [PROBE]) == [PROBE]
        with probe.transaction():
            assert refresh_stale_statistics(probe, [PROBE]) == [PROBE]
        flushed(probe)
        assert analyzed(probe, PROBE) == (1, 1)
        assert stale_tables(probe, [PROBE]) == []

    def test_a_table_locked_elsewhere_is_skipped_not_waited_for(self, probe: psycopg.Connection) -> None:
        """A posting chunk holds the accruals in SHARE mode for its whole transaction: a run
        starting meanwhile must not sit behind it (nor hold its own chunks behind itself)."""
        probe.execute(f"INSERT INTO {PROBE} VALUES (1)")
        flushed(probe)
        with psycopg.connect(probe.info.dsn) as holder:
            holder.execute(f"LOCK TABLE {PROBE} IN SHARE MODE")
            started = time.monotonic()
            with probe.transaction():
                probe.execute("SET LOCAL lock_timeout = '5s'")
                assert refresh_stale_statistics(probe, [PROBE]) == [PROBE]
            assert time.monotonic() - started < 2
            flushed(probe)
            assert analyzed(probe, PROBE) == (0, -1)  # skipped: never analyzed
        with probe.transaction():
            assert refresh_stale_statistics(probe, [PROBE]) == [PROBE]
        flushed(probe)
        assert analyzed(probe, PROBE) == (1, 1)


class TestRunsRefreshStatistics:
    def test_the_next_run_analyzes_what_the_last_one_wrote(self, book: psycopg.Connection) -> None:
        """An accrual writes a row and a result per account; the planner, told the tables are
        empty by the ANALYZE before, learns their size when the next run starts."""
        assert analyzed(book, "interest_accrual_entries")[1] == 0
        accrue_with_the_job(DatabaseResource(), START, "accrual-1", batch_size=100)
        [[accrued]] = book.execute("SELECT count(*) FROM interest_accrual_entries").fetchall()
        [[results]] = book.execute("SELECT count(*) FROM interest_batch_account_result").fetchall()
        assert accrued > 100 and results >= accrued
        # the accruals are partitioned by month (migration 0015): January's partition is what drifted
        january = "interest_accrual_entries_y2025m01"
        entries_before = analyzed(book, january)
        results_before = analyzed(book, "interest_batch_account_result")
        accounts_before = analyzed(book, "accounts")
        # the accrual's backends publish their counters as they exit, a moment after it returns
        deadline = time.monotonic() + 10
        while january not in stale_tables(book) and time.monotonic() < deadline:
            time.sleep(0.05)
        # the partition, not the parent (whose ANALYZE would sample every month ever kept)
        assert "interest_accrual_entries" not in stale_tables(book)

        # 240 accounts in chunks of at most 100: four of 60, two full rounds of the 2 threads
        assert start_accrual(date(2025, 1, 2)) == 4
        assert analyzed(book, january) == (entries_before[0] + 1, accrued)
        assert analyzed(book, "interest_batch_account_result") == (results_before[0] + 1, results)
        # the book itself did not change: its statistics are not redone
        assert analyzed(book, "accounts") == accounts_before

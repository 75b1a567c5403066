"""What a run records: its execution row, one result per processed account, the latest status per account."""

import threading
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import dagster as dg
import psycopg
import pytest

from interest_pipeline.accrual import ops as accrual_ops
from interest_pipeline.reporting import run_tables
from interest_pipeline_tests.accrual.book import Book, accrue

D = date(2025, 3, 10)


def _mixed_book(book: Book) -> None:
    """USD: 1 accrues 0.1, 2 skipped, 3 no rate; EUR: 4 accrues 0.2; 5 dormant, not processed."""
    book.product("P", tiers=[("2020-01-01", "0", "3.65")])
    book.product("NORATE")
    book.account(1, "P", {"2024-01-01": "1000"})
    book.account(2, "P", {"2024-01-01": "0"})
    book.account(3, "NORATE", {"2024-01-01": "1000"})
    book.account(4, "P", {"2024-01-01": "2000"}, currency="EUR")
    book.account(5, "P", {"2024-01-01": "1000"}, status="DORMANT")


class TestExecutionRow:
    def test_counts_totals_and_scope(self, book: Book, instance: dg.DagsterInstance) -> None:
        _mixed_book(book)
        result = accrue(D, instance, batch_size=2)
        row = book.execution(result.run_id)
        assert {k: row[k] for k in ("job_type", "business_date", "trigger", "status")} == {
            "job_type": "daily_interest_accrual",
            "business_date": D,
            "trigger": "MANUAL",
            "status": "PARTIAL",
        }
        # 5 accounts in chunks of at most 2, a multiple of the 2 parallel threads: 2, 1, 1, 1
        assert (row["total_chunks"], row["chunks_completed"]) == (4, 4)
        assert (
            row["accounts_processed"],
            row["accounts_succeeded"],
            row["accounts_skipped"],
            row["accounts_failed"],
        ) == (4, 2, 1, 1)
        # Per currency, as exact decimal strings; USD and EUR are never added into one figure.
        assert row["totals_by_currency"] == {"USD": "0.1000000000", "EUR": "0.2000000000"}
        assert "total_amount" not in row
        assert (row["account_ids"], row["account_types"], row["include_dormant"]) == (
            None,
            ["SAVINGS", "FIXED_DEPOSIT", "RECURRING_DEPOSIT"],
            False,
        )
        assert row["parameters"]["batch_size"] == 2
        assert row["completed_at"] is not None and row["completed_at"] >= row["started_at"]

    def test_run_output_metadata_shows_totals_per_currency(
        self, book: Book, instance: dg.DagsterInstance
    ) -> None:
        _mixed_book(book)
        result = accrue(D, instance)
        [output] = [
            e for e in result.all_node_events if e.is_successful_output and e.step_key == "close_accrual"
        ]
        metadata = output.step_output_data.metadata
        assert metadata["total_USD"] == dg.MetadataValue.text("0.1000000000")
        assert metadata["total_EUR"] == dg.MetadataValue.text("0.2000000000")
        assert metadata["totals_by_currency"] == dg.MetadataValue.json(
            {"EUR": "0.2000000000", "USD": "0.1000000000"}
        )
        assert "total_amount" not in metadata
        assert metadata["status"] == dg.MetadataValue.text("PARTIAL")
        assert metadata["accounts_failed"] == dg.MetadataValue.int(1)
        assert result.output_for_node("close_accrual") == "PARTIAL"

    def test_the_close_reads_its_table_on_a_second_connection_beside_the_check(
        self, book: Book, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Each reads the date's results (at 1M accounts 0.6 s and 1.4 s): one after the other they
        # left one of PostgreSQL's cores idle for the whole close. (The check's upper share of the
        # accounts follows the table there: test_check_sql.TestOnTwoConnections.)
        _mixed_book(book)
        seen: dict[str, tuple[int, int]] = {}

        def recorded(name: str, read: Callable[..., Any]) -> Callable[..., Any]:
            def reading(conn: psycopg.Connection, *args: Any, **kwargs: Any) -> Any:
                seen[name] = (conn.info.backend_pid, threading.get_ident())
                return read(conn, *args, **kwargs)

            return reading

        monkeypatch.setattr(run_tables.sql, "accrual_run", recorded("table", run_tables.sql.accrual_run))
        monkeypatch.setattr(run_tables, "accrual_checks", recorded("checks", run_tables.accrual_checks))
        result = accrue(D, instance)
        assert seen["table"][0] != seen["checks"][0]  # two backends
        assert seen["table"][1] != seen["checks"][1]  # at once: the table in a thread of its own
        [output] = [
            e for e in result.all_node_events if e.is_successful_output and e.step_key == "close_accrual"
        ]
        metadata = output.step_output_data.metadata
        assert metadata["checks_failed"] == dg.MetadataValue.int(0)
        rows = [r.data for r in metadata["by_currency"].value.records]  # type: ignore[union-attr]
        assert rows == [
            {
                "currency": "EUR",
                "accounts": 1,
                "accrued_accounts": 1,
                "skipped": 0,
                "failed": 0,
                "accrued": "0.2000000000",
            },
            {
                "currency": "USD",
                "accounts": 3,
                "accrued_accounts": 1,
                "skipped": 1,
                "failed": 1,
                "accrued": "0.1000000000",
            },
        ]

    @pytest.mark.parametrize(
        ("tags", "trigger"),
        [
            ({"dagster/schedule_name": "daily_interest_accrual_schedule"}, "SCHEDULE"),
            ({"dagster/sensor_name": "some_sensor"}, "SENSOR"),
            ({"dagster/backfill": "abcdef"}, "BACKFILL"),
        ],
    )
    def test_trigger_comes_from_run_tags(
        self, book: Book, instance: dg.DagsterInstance, tags: dict[str, str], trigger: str
    ) -> None:
        result = accrue(D, instance, tags=tags)
        assert book.execution(result.run_id)["trigger"] == trigger

    def test_failed_chunk_fails_the_execution(
        self, book: Book, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        _mixed_book(book)

        def broken(*_: object) -> None:
            raise RuntimeError("database went away")

        monkeypatch.setattr(accrual_ops.sql, "accrue_chunk", broken)
        result = accrue(D, instance, raise_on_error=False)
        assert not result.success
        row = book.execution(result.run_id)
        assert row["status"] == "FAILED"
        assert "database went away" in row["error_message"]
        assert (row["chunks_completed"], row["accounts_processed"]) == (0, 0)
        assert book.accruals(D) == {}

    def test_empty_book_closes_success_with_zero_counts(
        self, book: Book, instance: dg.DagsterInstance
    ) -> None:
        result = accrue(D, instance)
        row = book.execution(result.run_id)
        assert (row["status"], row["total_chunks"], row["accounts_processed"], row["totals_by_currency"]) == (
            "SUCCESS",
            1,
            0,
            {},
        )


class TestAccountResults:
    def test_one_result_per_processed_account(self, book: Book, instance: dg.DagsterInstance) -> None:
        _mixed_book(book)
        result = accrue(D, instance)
        results = book.results(result.run_id)
        assert {a: (r["status"], r["reason"], r["amount"], r["currency"]) for a, r in results.items()} == {
            1: ("SUCCESS", None, Decimal("0.1000000000"), "USD"),
            2: ("SKIPPED", "NON_POSITIVE_BALANCE", None, "USD"),
            3: ("FAILED", "NO_RATE", None, "USD"),
            4: ("SUCCESS", None, Decimal("0.2000000000"), "EUR"),
        }
        assert all(
            r["processing_time_ms"] is not None and r["processing_time_ms"] >= 0 for r in results.values()
        )
        assert {r["business_date"] for r in results.values()} == {D}
        assert "no rate" in results[3]["error_message"]


class TestAccountStatus:
    def test_latest_state_per_account(self, book: Book, instance: dg.DagsterInstance) -> None:
        _mixed_book(book)
        result = accrue(D, instance)
        ok, failed = book.status(1), book.status(3)
        assert ok is not None and failed is not None
        assert (
            ok["last_status"],
            ok["last_business_date"],
            ok["last_success_date"],
            ok["last_execution_id"],
        ) == (
            "SUCCESS",
            D,
            D,
            result.run_id,
        )
        assert (failed["last_status"], failed["consecutive_failures"], failed["last_error"]) == (
            "FAILED",
            1,
            "no rate_override and no rate schedule in force on 2025-03-10",
        )
        assert book.status(5) is None

    def test_consecutive_failures_count_dates_not_reruns(
        self, book: Book, instance: dg.DagsterInstance
    ) -> None:
        _mixed_book(book)
        accrue(D, instance)
        accrue(D, instance)
        accrue(date(2025, 3, 11), instance)
        assert book.status(3)["consecutive_failures"] == 2  # type: ignore[index]

    def test_backfill_of_an_older_date_does_not_move_status_back(
        self, book: Book, instance: dg.DagsterInstance
    ) -> None:
        _mixed_book(book)
        latest = accrue(D, instance)
        accrue(date(2025, 3, 1), instance, tags={"dagster/backfill": "bf1"})
        status = book.status(1)
        assert status is not None
        assert (status["last_business_date"], status["last_execution_id"]) == (D, latest.run_id)
        assert book.accruals(date(2025, 3, 1)) == {1: Decimal("0.1000000000"), 4: Decimal("0.2000000000")}

"""batch.executions and batch.config as repositories: each statement's effect, values asserted."""

from datetime import date
from decimal import Decimal

import psycopg
import pytest

from interest_pipeline.batch.config import (
    BatchRunConfig,
    ConfigSchedule,
    EffectiveConfig,
    JobConfigRow,
    config_schedules,
    load_job_config,
    merge_config,
    missing_accounts,
)
from interest_pipeline.batch.executions import (
    ChunkTotals,
    FinishedExecution,
    RunningExecution,
    claim_alert,
    close_execution,
    count_results,
    latest_finished_execution,
    open_execution,
    read_execution,
    record_chunk,
    running_executions,
    seconds_left,
)
from interest_pipeline_tests.accrual.book import Book

ACCRUAL = "daily_interest_accrual"
POSTING = "interest_posting"


def _config(conn: psycopg.Connection, job_type: str = ACCRUAL, **run: object) -> EffectiveConfig:
    return merge_config(load_job_config(conn, job_type), BatchRunConfig(**run))  # type: ignore[arg-type]


def _open(
    conn: psycopg.Connection,
    execution_id: str,
    *,
    job_type: str = ACCRUAL,
    day: date = date(2026, 1, 31),
    total_chunks: int = 2,
) -> None:
    open_execution(
        conn,
        execution_id=execution_id,
        business_date=day,
        trigger="MANUAL",
        config=_config(conn, job_type),
        total_chunks=total_chunks,
    )


class TestOpenAndRecord:
    def test_open_records_the_scope_and_the_worker(self, conn: psycopg.Connection) -> None:
        open_execution(
            conn,
            execution_id="run-1",
            business_date=date(2026, 1, 31),
            trigger="SCHEDULE",
            config=_config(conn, account_ids=[9, 3], account_types=["SAVINGS"]),
            total_chunks=3,
            extra_parameters={"partition": "2026-01-31"},
            worker_host="host-a",
            worker_pid=77,
        )

        row = read_execution(conn, "run-1")

        assert row is not None
        assert (row.job_type, row.business_date, row.trigger, row.status) == (
            ACCRUAL,
            date(2026, 1, 31),
            "SCHEDULE",
            "RUNNING",
        )
        assert (row.account_ids, row.account_types, row.include_dormant, row.total_chunks) == (
            [3, 9],
            ["SAVINGS"],
            False,
            3,
        )
        assert row.parameters["account_ids"] == [3, 9]
        assert row.parameters["partition"] == "2026-01-31"
        assert row.parameters["batch_size"] == _config(conn).batch_size
        assert (row.worker_host, row.worker_pid, row.completed_at, row.totals_by_currency) == (
            "host-a",
            77,
            None,
            {},
        )

    def test_chunks_add_their_counts_and_exact_amounts_per_currency(self, conn: psycopg.Connection) -> None:
        _open(conn, "run-1")

        record_chunk(
            conn,
            "run-1",
            ChunkTotals(
                processed=5,
                succeeded=3,
                skipped=1,
                failed=1,
                amounts={"USD": Decimal("1.10"), "JPY": Decimal("12")},
            ),
        )
        record_chunk(
            conn,
            "run-1",
            ChunkTotals(
                processed=2,
                succeeded=2,
                amounts={"USD": Decimal("8.4900"), "KWD": Decimal("0.0000000001")},
            ),
        )

        row = read_execution(conn, "run-1")
        assert row is not None
        assert (
            row.chunks_completed,
            row.accounts_processed,
            row.accounts_succeeded,
            row.accounts_skipped,
            row.accounts_failed,
        ) == (2, 7, 5, 1, 1)
        assert row.totals_by_currency == {"USD": "9.5900", "JPY": "12", "KWD": "0.0000000001"}

    def test_a_chunk_without_amounts_keeps_the_totals(self, conn: psycopg.Connection) -> None:
        _open(conn, "run-1")
        record_chunk(conn, "run-1", ChunkTotals(processed=1, skipped=1))

        row = read_execution(conn, "run-1")
        assert row is not None
        assert (row.chunks_completed, row.accounts_skipped, row.totals_by_currency) == (1, 1, {})


class TestClose:
    @pytest.mark.parametrize(
        ("chunks", "failed", "expected"),
        [(1, 0, "FAILED"), (2, 1, "PARTIAL"), (2, 0, "SUCCESS")],
    )
    def test_the_status_follows_from_the_counts(
        self, conn: psycopg.Connection, chunks: int, failed: int, expected: str
    ) -> None:
        _open(conn, "run-1", total_chunks=2)
        for _ in range(chunks):
            record_chunk(conn, "run-1", ChunkTotals(processed=1, failed=failed, succeeded=1 - failed))

        row = close_execution(conn, "run-1")

        assert row is not None
        assert (row.status, row.error_message) == (expected, None)
        assert row.completed_at is not None
        assert read_execution(conn, "run-1") == row

    def test_an_explicit_status_and_message_win(self, conn: psycopg.Connection) -> None:
        _open(conn, "run-1")

        row = close_execution(conn, "run-1", status="CANCELLED", error_message="the Dagster run was canceled")

        assert row is not None
        assert (row.status, row.error_message) == ("CANCELLED", "the Dagster run was canceled")

    def test_a_closed_or_unknown_execution_is_not_closed_again(self, conn: psycopg.Connection) -> None:
        _open(conn, "run-1", total_chunks=0)
        first = close_execution(conn, "run-1", error_message="first")

        assert first is not None and first.status == "SUCCESS"
        assert close_execution(conn, "run-1", status="FAILED", error_message="second") is None
        assert close_execution(conn, "nobody") is None
        again = read_execution(conn, "run-1")
        assert again is not None
        assert (again.status, again.error_message, again.completed_at) == (
            "SUCCESS",
            "first",
            first.completed_at,
        )

    def test_not_a_final_status(self, conn: psycopg.Connection) -> None:
        with pytest.raises(ValueError, match="not a final execution status: 'RUNNING'"):
            close_execution(conn, "run-1", status="RUNNING")


class TestReads:
    def test_claim_alert_once_and_only_when_closed(self, conn: psycopg.Connection) -> None:
        _open(conn, "run-1", total_chunks=0)

        assert claim_alert(conn, "run-1") is False
        close_execution(conn, "run-1")
        assert claim_alert(conn, "run-1") is True
        assert claim_alert(conn, "run-1") is False
        assert claim_alert(conn, "nobody") is False

    def test_running_executions_of_one_job_oldest_first(self, conn: psycopg.Connection) -> None:
        for execution_id, job_type in (("b", ACCRUAL), ("p", POSTING), ("a", ACCRUAL), ("done", ACCRUAL)):
            _open(conn, execution_id, job_type=job_type, total_chunks=0)
        conn.execute(
            "UPDATE interest_batch_execution SET started_at = now() - interval '1 hour' WHERE id = 'a'"
        )
        conn.execute("UPDATE interest_batch_execution SET worker_host = 'h', worker_pid = 5 WHERE id = 'b'")
        close_execution(conn, "done")

        running = running_executions(conn, ACCRUAL)

        assert [(r.id, r.worker_host, r.worker_pid) for r in running] == [("a", None, None), ("b", "h", 5)]
        assert all(isinstance(r, RunningExecution) for r in running)

    def test_latest_finished_execution_by_date_then_completion(self, conn: psycopg.Connection) -> None:
        assert latest_finished_execution(conn, ACCRUAL) is None
        for execution_id, day, failed in (
            ("jan-30", date(2026, 1, 30), 0),
            ("jan-31-partial", date(2026, 1, 31), 1),
            ("jan-31-failed", date(2026, 1, 31), 0),
            ("feb-01-running", date(2026, 2, 1), 0),
        ):
            _open(conn, execution_id, day=day, total_chunks=1)
            if execution_id != "feb-01-running":
                record_chunk(
                    conn, execution_id, ChunkTotals(processed=1, failed=failed, succeeded=1 - failed)
                )
        close_execution(conn, "jan-30")
        close_execution(conn, "jan-31-partial")
        close_execution(conn, "jan-31-failed", status="FAILED")
        _open(conn, "posting", job_type=POSTING, day=date(2026, 2, 2), total_chunks=0)
        close_execution(conn, "posting")

        assert latest_finished_execution(conn, ACCRUAL) == FinishedExecution(
            "jan-31-partial", date(2026, 1, 31)
        )
        assert latest_finished_execution(conn, POSTING) == FinishedExecution("posting", date(2026, 2, 2))

    def test_count_results_by_reason(self, conn: psycopg.Connection, book: Book) -> None:
        book.product("SAV", tiers=[("2020-01-01", "0", "1.0")])
        for account_id in (1, 2, 3):
            book.account(account_id, "SAV")
        _open(conn, "run-1", job_type=POSTING)
        _open(conn, "run-2", job_type=POSTING)
        for execution_id, account_id, reason in (
            ("run-1", 1, "INCOMPLETE_ACCRUALS: 2026-01-30"),
            ("run-1", 2, "INCOMPLETE_ACCRUALS: 2026-01-29"),
            ("run-1", 3, "NOTHING_TO_POST"),
            ("run-2", 1, "INCOMPLETE_ACCRUALS: 2026-01-30"),
        ):
            conn.execute(
                "INSERT INTO interest_batch_account_result (execution_id, account_id, job_type, business_date,"
                " status, reason) VALUES (%s, %s, 'interest_posting', '2026-01-31', 'SKIPPED', %s)",
                (execution_id, account_id, reason),
            )

        assert count_results(conn, "run-1", "INCOMPLETE_ACCRUALS%") == 2
        assert count_results(conn, "run-2", "INCOMPLETE_ACCRUALS%") == 1
        assert count_results(conn, "nobody", "INCOMPLETE_ACCRUALS%") == 0

    def test_seconds_left_counts_from_the_start(self, conn: psycopg.Connection) -> None:
        _open(conn, "run-1")
        conn.execute(
            "UPDATE interest_batch_execution SET started_at = clock_timestamp() - interval '100 seconds'"
        )

        left = seconds_left(conn, "run-1", 3600)

        assert left is not None and 3490 < left <= 3500
        late = seconds_left(conn, "run-1", 60)
        assert late is not None and -45 < late <= -40
        assert seconds_left(conn, "nobody", 60) is None


class TestConfigRows:
    def test_load_job_config_reads_the_default_row(self, conn: psycopg.Connection) -> None:
        conn.execute(
            "UPDATE interest_batch_config SET custom_parameters = '{\"include_dormant_accounts\": true}',"
            " account_types = '{SAVINGS,FIXED_DEPOSIT}', batch_size = 123"
            " WHERE job_type = 'interest_posting' AND name = 'default'"
        )
        config_id = conn.execute(
            "SELECT id FROM interest_batch_config WHERE job_type = 'interest_posting' AND name = 'default'"
        ).fetchone()

        row = load_job_config(conn, POSTING)

        assert config_id is not None
        assert isinstance(row, JobConfigRow)
        assert (row.job_type, row.name, row.config_id, row.batch_size) == (
            POSTING,
            "default",
            config_id[0],
            123,
        )
        assert row.account_types == ("SAVINGS", "FIXED_DEPOSIT")
        assert row.custom_parameters == {"include_dormant_accounts": True}

    def test_config_schedules_of_the_job_type_by_id(self, conn: psycopg.Connection) -> None:
        conn.execute(
            "INSERT INTO interest_batch_config (job_type, name, batch_size, parallel_threads, max_retries,"
            " retry_interval_seconds, timeout_seconds, account_types, cron_expression, enabled)"
            " VALUES ('interest_posting', 'evening', 10, 1, 0, 1, 900, '{SAVINGS}', '0 18 * * *', false)"
        )
        ids = conn.execute(
            "SELECT id, cron_expression, enabled, timeout_seconds FROM interest_batch_config"
            " WHERE job_type = 'interest_posting' ORDER BY id"
        ).fetchall()

        schedules = config_schedules(conn, POSTING)

        assert schedules == [
            ConfigSchedule(i, POSTING, cron, enabled, timeout) for i, cron, enabled, timeout in ids
        ]
        assert schedules[-1].cron_expression == "0 18 * * *" and schedules[-1].enabled is False
        assert schedules[-1].timeout_seconds == 900

    def test_missing_accounts_in_order(self, conn: psycopg.Connection, book: Book) -> None:
        book.product("SAV", tiers=[("2020-01-01", "0", "1.0")])
        for account_id in (2, 5):
            book.account(account_id, "SAV")

        assert missing_accounts(conn, [9, 5, 1, 2, 7]) == [1, 7, 9]
        assert missing_accounts(conn, [2, 5]) == []

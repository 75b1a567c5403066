"""Executions that outlive their runs, the chunk slots, and the sensors that close failed/canceled runs."""

import threading
import time
from datetime import date

import dagster as dg
import psycopg
import pytest

from interest_pipeline.accrual import ops as accrual_ops
from interest_pipeline.alerts.sensor import interest_run_outcomes
from interest_pipeline.batch.chunks import ChunkTask
from interest_pipeline.batch.config import BatchRunConfig
from interest_pipeline.batch.executions import ChunkTotals
from interest_pipeline.batch.lifecycle import (
    acquire_slot,
    close_stale_executions,
    run_chunk,
    start_batch,
    tune_chunk_transaction,
)
from interest_pipeline.definitions import defs
from interest_pipeline.resources.database import DatabaseResource
from interest_pipeline_tests.accrual.book import Book, accrue
from interest_pipeline_tests.support.notifier import RecordingNotifier


def _running(conn: psycopg.Connection, execution_id: str, started: str = "now()") -> None:
    conn.execute(
        "INSERT INTO interest_batch_execution (id, job_type, business_date, trigger, status, account_types,"
        f" started_at) VALUES (%s, 'daily_interest_accrual', '2025-03-01', 'MANUAL', 'RUNNING', '{{SAVINGS}}', {started})",
        (execution_id,),
    )


def _status(conn: psycopg.Connection, execution_id: str) -> tuple[str, str | None]:
    return conn.execute(
        "SELECT status, error_message FROM interest_batch_execution WHERE id = %s", (execution_id,)
    ).fetchone()  # type: ignore[return-value]


class TestCloseStaleExecutions:
    def test_ended_runs_are_closed_with_their_state(self, conn: psycopg.Connection) -> None:
        for execution_id in ("failed", "canceled", "running", "unknown-recent", "unknown-old", "me"):
            _running(
                conn, execution_id, "now() - interval '2 hours'" if execution_id == "unknown-old" else "now()"
            )
        states = {"failed": "FAILED", "canceled": "CANCELLED", "running": "RUNNING", "me": "RUNNING"}

        closed = close_stale_executions(
            conn, "daily_interest_accrual", states.get, exclude="me", timeout_seconds=3600
        )

        assert sorted(closed) == ["canceled", "failed", "unknown-old"]
        assert _status(conn, "failed")[0] == "FAILED"
        assert _status(conn, "canceled")[0] == "CANCELLED"
        assert "timeout of 3600 s" in (_status(conn, "unknown-old")[1] or "")
        assert [_status(conn, e)[0] for e in ("running", "unknown-recent", "me")] == ["RUNNING"] * 3

    def test_next_run_closes_what_a_canceled_run_left_running(self, book: Book) -> None:
        with dg.instance_for_test() as instance:
            job = defs.get_job_def("daily_interest_accrual")
            ghost = instance.create_run_for_job(job, tags={"dagster/partition": "2025-03-01"})
            instance.report_run_canceled(ghost)
            _running(book.conn, ghost.run_id)

            accrue(date(2025, 3, 2), instance)

        assert _status(book.conn, ghost.run_id) == (
            "CANCELLED",
            "the Dagster run ended CANCELLED without closing its execution",
        )


class TestChunkSlots:
    def test_a_slot_is_held_until_its_transaction_ends(self, clean_db: object) -> None:
        database = DatabaseResource()
        got_second: list[float] = []
        with database.connect() as first:
            assert acquire_slot(first, "run-1", 1) == 0

            def second() -> None:
                with database.connect() as conn:
                    acquire_slot(conn, "run-1", 1)
                    got_second.append(time.monotonic())

            thread = threading.Thread(target=second)
            thread.start()
            time.sleep(0.3)
            assert got_second == []
            released = time.monotonic()
            first.commit()
        thread.join(timeout=10)
        assert got_second and got_second[0] >= released

    def test_other_runs_have_their_own_slots(self, clean_db: object) -> None:
        database = DatabaseResource()
        with database.connect() as first, database.connect() as second, database.connect() as third:
            assert acquire_slot(first, "run-1", 1) == 0
            assert acquire_slot(second, "run-2", 2) == 0
            assert acquire_slot(third, "run-2", 2) == 1


class TestFailureSensor:
    def test_failed_run_left_running_is_closed_by_the_sensor(
        self, book: Book, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        book.product("P", tiers=[("2020-01-01", "0", "1")])
        book.account(1, "P", {"2024-01-01": "1"})

        def crash(*_: object) -> None:
            raise RuntimeError("worker killed")

        monkeypatch.setattr(accrual_ops.sql, "accrue_chunk", crash)
        with dg.instance_for_test() as instance:
            result = accrue(date(2025, 3, 1), instance, raise_on_error=False)
            # as if the process died before the failure hook ran
            book.conn.execute(
                "UPDATE interest_batch_execution SET status = 'RUNNING', completed_at = NULL, error_message = NULL"
            )
            # The run-outcome sensor is the daemon's closer of ends no step reported.
            interest_run_outcomes.evaluate_tick(
                dg.build_sensor_context(
                    instance=instance,
                    resources={"database": DatabaseResource(), "notifier": RecordingNotifier()},
                )
            )

        status, message = _status(book.conn, result.run_id)
        assert status == "FAILED"
        assert message and "Steps failed" in message


class TestChunkTransaction:
    def test_a_chunk_runs_without_jit_and_with_room_to_sort_in_memory(self, clean_db: object) -> None:
        database = DatabaseResource()
        [task] = start_batch(
            database,
            job_type="daily_interest_accrual",
            run_id="run-1",
            business_date=date(2025, 3, 1),
            trigger="MANUAL",
            run_config=BatchRunConfig(),
            run_state=lambda _: None,
        )
        seen: list[tuple[str, str]] = []

        def work(conn: psycopg.Connection, _: ChunkTask) -> ChunkTotals:
            seen.append(conn.execute("SELECT current_setting('jit'), current_setting('work_mem')").fetchone())  # type: ignore[arg-type]
            return ChunkTotals()

        run_chunk(database, task, work)

        assert seen == [("off", "64MB")]

    def test_the_settings_end_with_the_chunk_transaction(self, conn: psycopg.Connection) -> None:
        default = conn.execute("SELECT current_setting('jit'), current_setting('work_mem')").fetchone()
        with conn.transaction():
            tune_chunk_transaction(conn)
        assert (
            conn.execute("SELECT current_setting('jit'), current_setting('work_mem')").fetchone() == default
        )

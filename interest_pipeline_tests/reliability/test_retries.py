"""max_retries and retry_interval_seconds govern chunk retries: transient errors only, exactly."""

import threading
import time

import dagster as dg
import psycopg
import pytest
from psycopg import errors

from interest_pipeline.batch.lifecycle import is_transient
from interest_pipeline_tests.accrual.book import Book, accrue
from interest_pipeline_tests.reliability.conftest import EXPECTED, D, set_config
from interest_pipeline_tests.support.blocking import TableLock

JOB = "daily_interest_accrual"


def retries_of(result: dg.ExecuteInProcessResult, step_prefix: str) -> int:
    return sum(
        1
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY
        and (e.step_key or "").startswith(step_prefix)
    )


class TestTransientErrors:
    @pytest.mark.parametrize(
        ("error", "transient"),
        [
            (errors.SerializationFailure("could not serialize access"), True),
            (errors.DeadlockDetected("deadlock detected"), True),
            (errors.LockNotAvailable("canceling statement due to lock timeout"), True),
            (errors.AdminShutdown("terminating connection due to administrator command"), True),
            (psycopg.OperationalError("server closed the connection unexpectedly"), True),
            (errors.ConnectionFailure("connection failure"), True),
            (errors.QueryCanceled("canceling statement due to statement timeout"), False),
            (errors.UniqueViolation("duplicate key"), False),
            (errors.CheckViolation("violates check constraint"), False),
            (errors.NumericValueOutOfRange("numeric field overflow"), False),
            (RuntimeError("a bug"), False),
        ],
    )
    def test_only_errors_a_retry_can_cure_are_transient(self, error: Exception, transient: bool) -> None:
        assert is_transient(error) is transient


class TestChunkRetries:
    def test_a_terminated_connection_mid_chunk_is_retried_and_the_run_ends_success_exactly(
        self,
        book: Book,
        instance: dg.DagsterInstance,
        accruals_lock: TableLock,
        conn: psycopg.Connection,
    ) -> None:
        set_config(conn, JOB, max_retries=2, retry_interval_seconds=1)
        accruals_lock.hold()
        outcome: dict[str, dg.ExecuteInProcessResult] = {}
        runner = threading.Thread(target=lambda: outcome.setdefault("result", accrue(D, instance)))
        runner.start()
        backend = accruals_lock.waiting_backend()
        accruals_lock.terminate(backend)  # pg_terminate_backend while the chunk's statement runs
        started = time.monotonic()
        accruals_lock.release()
        runner.join(timeout=120)
        result = outcome["result"]
        assert result.success
        assert retries_of(result, "accrue_chunk") == 1
        assert time.monotonic() - started >= 0.9  # waited retry_interval_seconds
        row = book.execution(result.run_id)
        assert (row["status"], row["chunks_completed"], row["accounts_succeeded"]) == ("SUCCESS", 1, 3)
        assert row["totals_by_currency"] == {"USD": "0.3000000000"}
        assert book.accruals(D) == EXPECTED

    def test_retries_stop_at_max_retries(
        self, book: Book, instance: dg.DagsterInstance, accruals_lock: TableLock, conn: psycopg.Connection
    ) -> None:
        set_config(conn, JOB, max_retries=1, retry_interval_seconds=0)
        accruals_lock.hold()
        outcome: dict[str, dg.ExecuteInProcessResult] = {}
        runner = threading.Thread(
            target=lambda: outcome.setdefault("result", accrue(D, instance, raise_on_error=False))
        )
        runner.start()
        accruals_lock.terminate(accruals_lock.waiting_backend())
        accruals_lock.terminate(accruals_lock.waiting_backend())  # the one retry, terminated too
        runner.join(timeout=120)
        result = outcome["result"]
        assert not result.success
        assert retries_of(result, "accrue_chunk") == 1
        row = book.execution(result.run_id)
        assert row["status"] == "FAILED"
        assert "AdminShutdown" in row["error_message"] or "OperationalError" in row["error_message"]
        accruals_lock.release()
        assert book.accruals(D) == {}

    def test_a_deterministic_error_is_not_retried(
        self, book: Book, instance: dg.DagsterInstance, conn: psycopg.Connection
    ) -> None:
        set_config(conn, JOB, max_retries=3, retry_interval_seconds=0)
        conn.execute(
            "CREATE FUNCTION reject_account_2() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            " IF NEW.account_id = 2 THEN RAISE check_violation USING MESSAGE = 'account 2 refused'; END IF;"
            " RETURN NEW; END $$"
        )
        conn.execute(
            "CREATE TRIGGER reject_account_2 BEFORE INSERT ON interest_accrual_entries"
            " FOR EACH ROW EXECUTE FUNCTION reject_account_2()"
        )
        try:
            result = accrue(D, instance, raise_on_error=False)
        finally:
            conn.execute("DROP TRIGGER reject_account_2 ON interest_accrual_entries")
            conn.execute("DROP FUNCTION reject_account_2()")
        assert not result.success
        assert retries_of(result, "accrue_chunk") == 0
        row = book.execution(result.run_id)
        assert row["status"] == "FAILED"
        assert "CheckViolation: account 2 refused" in row["error_message"]
        assert book.accruals(D) == {}  # the chunk rolled back whole

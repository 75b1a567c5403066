"""timeout_seconds ends a run that runs longer: FAILED with TIMED_OUT, and a re-run is exact."""

import threading
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from click.testing import CliRunner

from interest_pipeline.cli import main
from interest_pipeline.settings import DAGSTER_DATABASE_URL_ENV
from interest_pipeline_tests.accrual.book import Book, accrue
from interest_pipeline_tests.reliability.conftest import EXPECTED, D, set_config
from interest_pipeline_tests.support.blocking import TableLock

JOB = "daily_interest_accrual"


class TestTimeout:
    def test_a_run_over_its_timeout_is_ended_timed_out_and_the_rerun_is_exact(
        self, book: Book, instance: dg.DagsterInstance, accruals_lock: TableLock, conn: psycopg.Connection
    ) -> None:
        set_config(conn, JOB, timeout_seconds=2, max_retries=3, retry_interval_seconds=0)
        accruals_lock.hold()
        outcome: dict[str, dg.ExecuteInProcessResult] = {}
        runner = threading.Thread(
            target=lambda: outcome.setdefault("result", accrue(D, instance, raise_on_error=False))
        )
        runner.start()
        accruals_lock.waiting_backend()  # the chunk is stuck; nothing else ends it
        runner.join(timeout=60)
        assert not runner.is_alive(), "the run did not end at its timeout"
        accruals_lock.release()
        result = outcome["result"]
        assert not result.success
        row = book.execution(result.run_id)
        assert (row["status"], row["error_message"], row["chunks_completed"]) == (
            "FAILED",
            "TIMED_OUT: ran over 2 s",
            0,
        )
        # A timeout is not a transient error: no retry kept the run going past it.
        assert not [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
        assert book.accruals(D) == {}

        set_config(conn, JOB, timeout_seconds=3600)
        rerun = accrue(D, instance)
        assert book.execution(rerun.run_id)["status"] == "SUCCESS"
        assert book.accruals(D) == EXPECTED

    def test_cli_runs_carry_the_rows_timeout_as_max_runtime_and_their_worker(
        self, book: Book, conn: psycopg.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """dagster/max_runtime is what run monitoring enforces when a daemon runs."""
        (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
        monkeypatch.setenv(DAGSTER_DATABASE_URL_ENV, "postgresql://unused.invalid/none")
        set_config(conn, JOB, timeout_seconds=123)
        outcome = CliRunner().invoke(main, ["accrue", "--date", D])
        assert outcome.exit_code == 0, outcome.output
        with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
            [run] = instance.get_runs()
        assert run.tags["dagster/max_runtime"] == "123"
        row = book.execution(run.run_id)
        assert (row["worker_pid"], row["worker_host"]) == (
            int(run.tags["interest_pipeline/worker_pid"]),
            run.tags["interest_pipeline/worker_host"],
        )

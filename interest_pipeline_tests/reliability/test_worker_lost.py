"""A run whose worker is killed never leaves its execution RUNNING: without a daemon, the next run
of the job closes it (RUN_WORKER_LOST) and marks the Dagster run failed, once the worker is gone."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from click.testing import CliRunner
from sqlalchemy.engine import URL

from interest_pipeline.batch.lifecycle import close_stale_executions
from interest_pipeline.cli import main
from interest_pipeline.settings import DAGSTER_DATABASE_URL_ENV, DATABASE_URL_ENV
from interest_pipeline_tests.accrual.book import Book
from interest_pipeline_tests.reliability.conftest import EXPECTED, D
from interest_pipeline_tests.support import processes
from interest_pipeline_tests.support.blocking import TableLock

CLI = str(Path(sys.executable).with_name("interest-pipeline"))


def _open_row(conn: psycopg.Connection, execution_id: str, host: str, pid: int) -> None:
    conn.execute(
        "INSERT INTO interest_batch_execution (id, job_type, business_date, trigger, status, account_types,"
        " worker_host, worker_pid) VALUES (%s, 'daily_interest_accrual', %s, 'MANUAL', 'RUNNING',"
        " ARRAY['SAVINGS'], %s, %s)",
        (execution_id, D, host, pid),
    )


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


class TestStaleCloser:
    @pytest.mark.parametrize(
        ("where", "closed"),
        [("this host, alive", False), ("this host, gone", True), ("another host", False)],
    )
    def test_a_row_dagster_calls_running_is_closed_only_when_its_worker_is_gone(
        self, conn: psycopg.Connection, where: str, closed: bool
    ) -> None:
        host, pid = {
            "this host, alive": (socket.gethostname(), os.getpid()),
            "this host, gone": (socket.gethostname(), _dead_pid()),
            "another host": ("elsewhere.invalid", _dead_pid()),
        }[where]
        _open_row(conn, "old-run", host, pid)
        lost = close_stale_executions(
            conn, "daily_interest_accrual", lambda _: "RUNNING", exclude="new-run", timeout_seconds=3600
        )
        status, error = conn.execute(
            "SELECT status, error_message FROM interest_batch_execution WHERE id = 'old-run'"
        ).fetchone()  # type: ignore[misc]
        if closed:
            assert (status, list(lost)) == ("FAILED", ["old-run"])
            assert error == f"RUN_WORKER_LOST: run worker {host}:{pid} is gone"
        else:
            assert (status, error, lost) == ("RUNNING", None, {})


class TestKilledCliRun:
    def test_sigkill_mid_chunk_then_the_next_run_closes_it_and_fails_the_dagster_run(
        self,
        book: Book,
        clean_db: URL,
        accruals_lock: TableLock,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        home = tmp_path / "dagster"
        home.mkdir()
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        env = {
            **os.environ,
            DATABASE_URL_ENV: clean_db.render_as_string(hide_password=False),
            DAGSTER_DATABASE_URL_ENV: "postgresql://unused.invalid/none",
            "DAGSTER_HOME": str(home),
        }
        accruals_lock.hold()
        worker = processes.start([CLI, "accrue", "--date", D], env, str(tmp_path / "worker.log"))
        try:
            backend = accruals_lock.waiting_backend(timeout=120)  # the chunk's statement, mid-chunk
            processes.kill_tree(worker)  # kill -9: no hook, no sensor, nothing closes anything
        finally:
            processes.stop(worker)
        accruals_lock.terminate(backend)  # the dead client's backend would only roll back anyway
        accruals_lock.release()
        [killed] = book.executions()
        assert (killed["status"], killed["worker_pid"]) == ("RUNNING", worker.pid)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            assert instance.get_run_by_id(killed["id"]).status == dg.DagsterRunStatus.STARTED  # type: ignore[union-attr]

        monkeypatch.setenv("DAGSTER_HOME", str(home))
        monkeypatch.setenv(DAGSTER_DATABASE_URL_ENV, "postgresql://unused.invalid/none")
        outcome = CliRunner().invoke(main, ["accrue", "--date", D])
        assert outcome.exit_code == 0, outcome.output

        rows = {r["id"]: r for r in book.executions()}
        lost = rows.pop(killed["id"])
        assert lost["status"] == "FAILED"
        assert (
            lost["error_message"]
            == f"RUN_WORKER_LOST: run worker {socket.gethostname()}:{worker.pid} is gone"
        )
        [rerun] = rows.values()
        assert rerun["status"] == "SUCCESS"
        assert not [r for r in book.executions() if r["status"] == "RUNNING"]
        assert book.accruals(D) == EXPECTED
        with dg.DagsterInstance.from_config(str(home)) as instance:
            assert instance.get_run_by_id(killed["id"]).status == dg.DagsterRunStatus.FAILURE  # type: ignore[union-attr]

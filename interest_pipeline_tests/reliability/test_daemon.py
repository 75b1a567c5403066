"""With the daemon running, a run worker killed with SIGKILL mid-chunk is marked failed by run
monitoring, and the run-outcome sensor closes its execution: FAILED, RUN_WORKER_LOST."""

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
import pytest
from sqlalchemy.engine import URL

from interest_pipeline.batch.lifecycle import process_alive
from interest_pipeline.settings import DAGSTER_PG_URL_ENV
from interest_pipeline_tests.accrual.book import Book
from interest_pipeline_tests.reliability.conftest import EXPECTED, D
from interest_pipeline_tests.support import processes
from interest_pipeline_tests.support.blocking import TableLock
from interest_pipeline_tests.support.daemon import Daemon, running_daemon


@pytest.fixture(scope="module")
def daemon(database_url: URL, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    import os

    previous = os.environ.get(DAGSTER_PG_URL_ENV)
    with running_daemon(database_url, tmp_path_factory.mktemp("daemon-home")) as handle:
        yield handle
    if previous is None:
        os.environ.pop(DAGSTER_PG_URL_ENV, None)
    else:
        os.environ[DAGSTER_PG_URL_ENV] = previous


def _wait(what: str, check: Callable[[], Any], timeout: float, daemon: Daemon) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"{what} within {timeout} s; daemon log: {daemon.log.read_text()[-4000:]}")


def _run_status(daemon: Daemon, run_id: str) -> dg.DagsterRunStatus | None:
    with daemon.instance() as instance:
        run = instance.get_run_by_id(run_id)
        return run.status if run else None


def _run_story(daemon: Daemon, run_id: str) -> str:
    """The run's engine and failure messages and the daemon's log: what a failed assertion needs."""
    with daemon.instance() as instance:
        records = instance.get_records_for_run(run_id).records
        lines = [
            f"{r.event_log_entry.dagster_event_type}: {r.event_log_entry.message}"
            for r in records
            if r.event_log_entry.dagster_event_type
            in (
                dg.DagsterEventType.RUN_FAILURE,
                dg.DagsterEventType.ENGINE_EVENT,
                dg.DagsterEventType.RUN_START,
            )
        ]
    return "\n".join(lines[-20:]) + f"\ndaemon log: {daemon.log.read_text()[-4000:]}"


class TestRunMonitoring:
    def test_a_killed_run_worker_is_failed_by_the_daemon_and_its_execution_closed(
        self,
        daemon: Daemon,
        book: Book,
        conn: psycopg.Connection,
        accruals_lock: TableLock,
        tmp_path: Path,
    ) -> None:
        accruals_lock.hold()
        daemon.launch("daily_interest_accrual", D, tmp_path / "launch.log")
        backend = accruals_lock.waiting_backend(timeout=240)  # mid-chunk, in the daemon's run worker
        [running] = book.executions()
        worker = running["worker_pid"]
        assert running["status"] == "RUNNING" and worker and process_alive(worker)
        assert _run_status(daemon, running["id"]) == dg.DagsterRunStatus.STARTED, _run_story(
            daemon, running["id"]
        )

        processes.kill_pid_tree(worker)  # kill -9 of the worker and its step processes
        accruals_lock.terminate(backend)
        accruals_lock.release()

        _wait(
            "run monitoring marks the run FAILURE",
            lambda: _run_status(daemon, running["id"]) == dg.DagsterRunStatus.FAILURE,
            120,
            daemon,
        )
        closed = _wait(
            "the run-outcome sensor closes the execution",
            lambda: [r for r in book.executions() if r["status"] != "RUNNING"],
            120,
            daemon,
        )
        [row] = closed
        assert row["status"] == "FAILED"
        assert row["error_message"].startswith("RUN_WORKER_LOST: "), row["error_message"]
        assert f"run worker {socket.gethostname()}:{worker} is gone" in row["error_message"]
        assert book.accruals(D) == {}

        # The daemon launches the re-run, which completes the date exactly.
        daemon.launch("daily_interest_accrual", D, tmp_path / "relaunch.log")
        done = _wait(
            "the re-run succeeds",
            lambda: [r for r in book.executions() if r["id"] != row["id"] and r["status"] == "SUCCESS"],
            240,
            daemon,
        )
        assert len(done) == 1
        assert book.accruals(D) == EXPECTED
        assert not [r for r in book.executions() if r["status"] == "RUNNING"]

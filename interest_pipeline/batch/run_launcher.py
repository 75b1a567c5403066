"""Dagster's default run launcher, with the worker health check run monitoring needs.

DefaultRunLauncher runs each run in a process on this machine but cannot tell the daemon whether
that process still lives, so run monitoring never notices a run worker killed with SIGKILL (or by
the OOM killer): the run stays STARTED, holding a slot of the run queue, and its execution row
RUNNING. The worker writes its own pid on the run's RUN_START event; this launcher checks it.
"""

import dagster as dg
from dagster._core.launcher import DefaultRunLauncher
from dagster._core.launcher.base import CheckRunHealthResult, WorkerStatus

from interest_pipeline.batch.lifecycle import process_alive


def run_worker_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The pid that wrote the run's RUN_START event: the run worker, on this host."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_START, limit=1).records
    event = records[0].event_log_entry.dagster_event if records else None
    return event.pid if event is not None else None


class MonitoredRunLauncher(DefaultRunLauncher):
    """DefaultRunLauncher whose run workers run monitoring can check (dagster.yaml run_launcher)."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        pid = run_worker_pid(self._instance, run.run_id)
        if pid is None:
            # Not started yet (anything but RUNNING counts as dead): start_timeout_seconds covers
            # a worker that never starts.
            return CheckRunHealthResult(WorkerStatus.RUNNING, "no RUN_START event yet")
        if process_alive(pid):
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"run worker pid {pid} is alive")
        return CheckRunHealthResult(WorkerStatus.FAILED, f"run worker pid {pid} is gone (killed or crashed)")

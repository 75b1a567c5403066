"""What happens when a run of either job ends: its execution row is closed if the run ended
abnormally, and an alert goes out when it ended FAILED, PARTIAL, timed out, or blocked postings.

Called by the run-outcome sensor (daemon) and by the CLI launcher right after an in-process run
(no daemon); `claim_alert` makes one of them send.
"""

import logging

import dagster as dg
import psycopg

from interest_pipeline.alerts.notifier import Alert, NotifierResource
from interest_pipeline.batch.executions import (
    RUN_WORKER_LOST,
    TIMED_OUT,
    ExecutionRow,
    claim_alert,
    close_execution,
    count_results,
    executions_of_run,
    run_id_of,
    timed_out_message,
)
from interest_pipeline.batch.lifecycle import worker_alive
from interest_pipeline.batch.tags import MAX_RUNTIME_TAG, PARTITION_TAG
from interest_pipeline.resources.database import DatabaseResource
from interest_pipeline.settings import alert_settings

log = logging.getLogger(__name__)
ALERT_STATUSES = ("FAILED", "PARTIAL")
ABNORMAL = (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)
BLOCKED_REASON = "INCOMPLETE_ACCRUALS%"


def abnormal_end(run: dg.DagsterRun, failure_message: str | None) -> tuple[str, str]:
    """(execution status, error_message) for a Dagster run that failed or was canceled
    outside any step: killed worker (run monitoring), timeout (max_runtime), cancel."""
    if run.status == dg.DagsterRunStatus.CANCELED:
        return "CANCELLED", "the Dagster run was canceled"
    text = failure_message or "the Dagster run failed"
    if "maximum runtime" in text and MAX_RUNTIME_TAG in run.tags:
        return "FAILED", timed_out_message(int(float(run.tags[MAX_RUNTIME_TAG])))
    if "worker" in text.lower() or CRASH_PREFIX in text:
        return "FAILED", f"{RUN_WORKER_LOST}: {text}"[:4000]
    return "FAILED", text[:4000]


# What the code server says when the run process it started dies (dagster._grpc.server).
CRASH_PREFIX = "Run execution process for"


def failure_message(instance: dg.DagsterInstance, run_id: str) -> str | None:
    """What whoever failed the run said: run monitoring names the dead worker or the runtime
    limit; the code server that started the worker reports its crash as an engine event."""

    def texts(event_type: dg.DagsterEventType) -> list[str]:
        records = instance.get_records_for_run(run_id, of_type=event_type).records
        return [
            text
            for record in records
            if (
                text := (
                    record.event_log_entry.dagster_event.message
                    if record.event_log_entry.dagster_event
                    else None
                )
                or record.event_log_entry.message
            )
        ]

    crashes = [t for t in texts(dg.DagsterEventType.ENGINE_EVENT) if t.startswith(CRASH_PREFIX)]
    messages = list(dict.fromkeys([*texts(dg.DagsterEventType.RUN_FAILURE), *crashes]))
    # The specific reason first (a worker lost, a timeout), Dagster's generic words after it.
    messages.sort(key=lambda m: "outside the execution context" in m)
    return "; ".join(messages) or None


def blocked_accounts(conn: psycopg.Connection, execution_id: str) -> int:
    return count_results(conn, execution_id, BLOCKED_REASON)


def alert_for(row: ExecutionRow, blocked: int, run_url: str) -> Alert | None:
    timed_out = bool(row.error_message and row.error_message.startswith(TIMED_OUT))
    if row.status not in ALERT_STATUSES and not timed_out and blocked == 0:
        return None
    return Alert(
        job=row.job_type,
        business_date=row.business_date.isoformat(),
        status=TIMED_OUT if timed_out else row.status,
        run_id=run_id_of(row.id),
        run_url=run_url,
        execution_id=row.id,
        accounts_processed=row.accounts_processed,
        accounts_succeeded=row.accounts_succeeded,
        accounts_skipped=row.accounts_skipped,
        accounts_failed=row.accounts_failed,
        accounts_blocked=blocked,
        totals_by_currency=dict(sorted(row.totals_by_currency.items())),
        error=row.error_message,
    )


def report_alert(
    instance: dg.DagsterInstance, run: dg.DagsterRun, notifier: NotifierResource
) -> Alert | None:
    """A month report run (reporting.month_job) that failed: its alert, sent. It has no execution
    row (it writes nothing), so nothing to close and no counts; the run-outcome sensor's cursor
    is what sends it once (at least once: a daemon that dies between the send and the cursor's
    save sends it again on restart)."""
    if run.status != dg.DagsterRunStatus.FAILURE:
        return None
    alert = Alert(
        job=run.job_name,
        business_date=run.tags.get(PARTITION_TAG, ""),
        status="FAILED",
        run_id=run.run_id,
        run_url=f"{alert_settings().dagster_url}/runs/{run.run_id}",
        accounts_processed=0,
        accounts_succeeded=0,
        accounts_skipped=0,
        accounts_failed=0,
        accounts_blocked=0,
        error=step_failure_message(instance, run.run_id) or failure_message(instance, run.run_id),
    )
    send(notifier, alert)
    return alert


def send(notifier: NotifierResource, alert: Alert) -> None:
    """Send `alert`; a channel that fails is logged, never raised (an alert never fails a run)."""
    try:
        notifier.notify(alert)
    except Exception:
        log.exception("alert for run %s not sent", alert.run_id)


def step_failure_message(instance: dg.DagsterInstance, run_id: str) -> str | None:
    """The first failed step's error: what the op raised, under Dagster's wrapping of it."""
    for record in instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records:
        event = record.event_log_entry.dagster_event
        error = event.step_failure_data.error if event is not None else None
        while error is not None and error.cause is not None:
            error = error.cause
        if error is not None:
            return error.message.strip()[:4000]  # "RuntimeError: ..." (the class name included)
    return None


def handle_run_end(
    instance: dg.DagsterInstance, run: dg.DagsterRun, database: DatabaseResource, notifier: NotifierResource
) -> Alert | None:
    """Close the run's execution if it is still RUNNING after an abnormal end, then alert once.

    Returns the alert sent (None: nothing to say, already sent, or no execution); for a ranged run
    (one execution per date), the last of those `handle_run_executions` sent.
    """
    alerts = handle_run_executions(instance, run, database, notifier)
    return alerts[-1] if alerts else None


def handle_run_executions(
    instance: dg.DagsterInstance, run: dg.DagsterRun, database: DatabaseResource, notifier: NotifierResource
) -> list[Alert]:
    """`handle_run_end` for each execution of the run (one, or one per date of a ranged run), in
    the order the run opened them; the alerts sent."""
    with database.connect() as conn:
        rows = executions_of_run(conn, run.run_id)
        running = [row for row in rows if row.status == "RUNNING"]
        if running and run.status in ABNORMAL:
            status, message = abnormal_end(run, failure_message(instance, run.run_id))
            for row in running:
                closing = message
                if run.status == dg.DagsterRunStatus.FAILURE and not worker_alive(
                    row.worker_host, row.worker_pid
                ):
                    # Whoever noticed first (run monitoring, the code server) may say only "failed".
                    closing = (
                        f"{RUN_WORKER_LOST}: run worker {row.worker_host}:{row.worker_pid} is gone; {message}"
                    )
                    closing = closing.replace(f"; {RUN_WORKER_LOST}: ", "; ")[:4000]
                close_execution(conn, row.id, status=status, error_message=closing)
            rows = executions_of_run(conn, run.run_id)
        run_url = f"{alert_settings().dagster_url}/runs/{run.run_id}"
        alerts: list[Alert] = []
        for row in rows:
            if row.status == "RUNNING":
                continue
            alert = alert_for(row, blocked_accounts(conn, row.id), run_url)
            if alert is not None and claim_alert(conn, row.id):
                alerts.append(alert)
    # After the commit, outside the transaction: a slow channel holds no row lock.
    for alert in alerts:
        send(notifier, alert)
    return alerts

"""Runs that end FAILED, PARTIAL or timed out, and postings that block accounts, are alerted:
a webhook and an e-mail, both behind the notifier resource; a failed alert never fails a run."""

import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from click.testing import CliRunner

from interest_pipeline.accrual import ops as accrual_ops
from interest_pipeline.alerts.notifier import SettingsNotifierResource
from interest_pipeline.alerts.outcomes import alert_for, handle_run_end
from interest_pipeline.alerts.sensor import interest_run_outcomes
from interest_pipeline.batch.executions import ExecutionRow
from interest_pipeline.cli import main
from interest_pipeline.definitions import defs
from interest_pipeline.reporting import month_job
from interest_pipeline.resources.database import DatabaseResource
from interest_pipeline.settings import (
    ALERT_EMAIL_TO_ENV,
    ALERT_SMTP_URL_ENV,
    ALERT_WEBHOOK_URL_ENV,
    DAGSTER_DATABASE_URL_ENV,
    DAGSTER_URL_ENV,
)
from interest_pipeline_tests.accrual.book import Book, accrue
from interest_pipeline_tests.reliability.conftest import D
from interest_pipeline_tests.support.notifier import RecordingNotifier
from interest_pipeline_tests.support.receivers import (
    SmtpReceiver,
    WebhookReceiver,
    smtp_receiver,
    webhook_receiver,
)

UI = "http://ui.example.test:3000"


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookReceiver]:
    with webhook_receiver() as receiver:
        monkeypatch.setenv(ALERT_WEBHOOK_URL_ENV, receiver.url)
        monkeypatch.setenv(DAGSTER_URL_ENV, UI)
        yield receiver


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpReceiver]:
    with smtp_receiver() as receiver:
        monkeypatch.setenv(ALERT_SMTP_URL_ENV, receiver.url)
        monkeypatch.setenv(ALERT_EMAIL_TO_ENV, "ops@bank.test, treasury@bank.test")
        yield receiver


def _failing_run(book: Book, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch) -> str:
    def broken(*_: object) -> None:
        raise RuntimeError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(accrual_ops.sql, "accrue_chunk", broken)
        return accrue(D, instance, raise_on_error=False).run_id


def _partial_book(book: Book) -> None:
    """Accounts 1-3 accrue; account 4's product has no rate yet on D, so it fails (NO_RATE)."""
    book.product("LATER", tiers=[("2025-06-01", "0", "1")])
    book.account(4, "LATER", {"2024-01-01": "500"})


class TestChannels:
    def test_a_failed_run_reaches_the_webhook_and_the_mailbox(
        self,
        book: Book,
        instance: dg.DagsterInstance,
        monkeypatch: pytest.MonkeyPatch,
        webhook: WebhookReceiver,
        smtp: SmtpReceiver,
    ) -> None:
        run_id = _failing_run(book, instance, monkeypatch)
        run = instance.get_run_by_id(run_id)
        assert run is not None
        alert = handle_run_end(instance, run, DatabaseResource(), SettingsNotifierResource())
        assert alert is not None
        [body] = webhook.bodies
        assert {k: body[k] for k in ("job", "business_date", "status", "run_id", "run_url")} == {
            "job": "daily_interest_accrual",
            "business_date": D,
            "status": "FAILED",
            "run_id": run_id,
            "run_url": f"{UI}/runs/{run_id}",
        }
        assert (body["accounts_processed"], body["accounts_failed"], body["accounts_blocked"]) == (0, 0, 0)
        assert "RuntimeError: disk full" in body["error"]
        [mail] = smtp.messages
        assert mail["Subject"] == f"[interest-pipeline] daily_interest_accrual {D} FAILED"
        assert smtp.recipients == [["ops@bank.test", "treasury@bank.test"]]
        assert f"run: {UI}/runs/{run_id}" in mail.get_payload()  # type: ignore[operator]

    def test_a_partial_cli_run_is_alerted_once_with_its_counts_and_totals(
        self,
        book: Book,
        webhook: WebhookReceiver,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        conn: psycopg.Connection,
    ) -> None:
        _partial_book(book)
        (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
        monkeypatch.setenv(DAGSTER_DATABASE_URL_ENV, "postgresql://unused.invalid/none")
        outcome = CliRunner().invoke(main, ["accrue", "--date", D])
        assert outcome.exit_code == 0, outcome.output  # a PARTIAL run is a finished run
        [body] = webhook.bodies
        assert (body["status"], body["accounts_succeeded"], body["accounts_failed"]) == ("PARTIAL", 3, 1)
        assert body["totals_by_currency"] == {"USD": "0.3000000000"}
        # The daemon's sensor sees the same run end later: it sends nothing again.
        with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
            interest_run_outcomes.evaluate_tick(
                dg.build_sensor_context(
                    instance=instance,
                    resources={"database": DatabaseResource(), "notifier": SettingsNotifierResource()},
                )
            )
        assert len(webhook.bodies) == 1
        assert conn.execute(
            "SELECT count(*) FROM interest_batch_execution WHERE alerted_at IS NOT NULL"
        ).fetchone() == (1,)

    def test_a_posting_that_blocks_accounts_reaches_the_webhook_with_their_count(
        self,
        book: Book,
        webhook: WebhookReceiver,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        conn: psycopg.Connection,
    ) -> None:
        # The three accounts accrue Mar 30 but not Mar 31: the month-end posting of Mar 31 finds
        # their accruals incomplete (Mar 31 missing) and blocks all three.
        (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
        monkeypatch.setenv(DAGSTER_DATABASE_URL_ENV, "postgresql://unused.invalid/none")
        accrued = CliRunner().invoke(main, ["accrue", "--date", "2025-03-30"])
        assert accrued.exit_code == 0, accrued.output
        assert webhook.bodies == []  # a successful accrual says nothing
        posted = CliRunner().invoke(main, ["post", "--date", "2025-03-31"])
        assert posted.exit_code == 0, posted.output
        [body] = webhook.bodies
        assert {k: body[k] for k in ("job", "business_date", "status", "accounts_blocked")} == {
            "job": "interest_posting",
            "business_date": "2025-03-31",
            "status": "PARTIAL",
            "accounts_blocked": 3,
        }
        assert conn.execute("SELECT count(*) FROM interest_postings").fetchone() == (0,)
        reasons = conn.execute(
            "SELECT DISTINCT reason FROM interest_batch_account_result WHERE job_type = 'interest_posting'"
        ).fetchall()
        assert reasons == [("INCOMPLETE_ACCRUALS: missing 2025-03-31",)]

    def test_a_successful_run_is_not_alerted(
        self, book: Book, instance: dg.DagsterInstance, webhook: WebhookReceiver
    ) -> None:
        result = accrue(D, instance)
        assert (
            handle_run_end(instance, result.dagster_run, DatabaseResource(), SettingsNotifierResource())
            is None
        )
        assert webhook.bodies == []

    def test_a_failing_channel_is_logged_and_fails_nothing(
        self,
        book: Book,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        _partial_book(book)
        with webhook_receiver() as gone:
            closed_url = gone.url  # the port is closed once the receiver stops
        monkeypatch.setenv(ALERT_WEBHOOK_URL_ENV, closed_url)
        (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
        monkeypatch.setenv(DAGSTER_DATABASE_URL_ENV, "postgresql://unused.invalid/none")
        with caplog.at_level(logging.ERROR, logger="interest_pipeline.alerts.notifier"):
            outcome = CliRunner().invoke(main, ["accrue", "--date", D])
        assert outcome.exit_code == 0, outcome.output
        assert [r.getMessage() for r in caplog.records if "not sent" in r.getMessage()]
        assert book.executions()[0]["status"] == "PARTIAL"


class TestTheSensor:
    def test_the_outcome_sensor_alerts_a_failed_run_through_the_notifier_resource(
        self, book: Book, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        RecordingNotifier.sent.clear()
        with dg.instance_for_test() as instance:
            run_id = _failing_run(book, instance, monkeypatch)
            interest_run_outcomes.evaluate_tick(
                dg.build_sensor_context(
                    instance=instance,
                    resources={"database": DatabaseResource(), "notifier": RecordingNotifier()},
                )
            )
        assert [(a.run_id, a.status) for a in RecordingNotifier.sent] == [(run_id, "FAILED")]


class TestMonthReportRuns:
    def test_a_failed_month_report_is_alerted_once_with_its_error_and_a_good_one_not(
        self, book: Book, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def broken(*_: object) -> None:
            raise RuntimeError("statement timeout")

        report_job = defs.get_job_def(month_job.JOB_NAME)
        RecordingNotifier.sent.clear()
        with dg.instance_for_test() as instance:
            with monkeypatch.context() as patch:
                patch.setattr(month_job, "month_report", broken)
                failed = report_job.execute_in_process(
                    partition_key="2025-01-31", instance=instance, raise_on_error=False
                )
            good = report_job.execute_in_process(partition_key="2025-02-28", instance=instance)
            assert (failed.success, good.success) == (False, True)

            def tick() -> None:
                context = dg.build_sensor_context(
                    instance=instance,
                    resources={"database": DatabaseResource(), "notifier": RecordingNotifier()},
                    cursor=cursor[0],
                )
                interest_run_outcomes.evaluate_tick(context)
                cursor[0] = context.cursor

            cursor: list[str | None] = [None]
            tick()
            tick()
        [alert] = RecordingNotifier.sent
        assert (alert.job, alert.business_date, alert.status, alert.run_id) == (
            "interest_month_report",
            "2025-01-31",
            "FAILED",
            failed.run_id,
        )
        assert alert.error == "RuntimeError: statement timeout"
        assert alert.subject() == "[interest-pipeline] interest_month_report 2025-01-31 FAILED"


def _row(status: str, error: str | None = None) -> ExecutionRow:
    return ExecutionRow(
        id="r", job_type="interest_posting", business_date=date(2025, 1, 31), trigger="MANUAL", status=status,
        parameters={}, account_ids=None, account_types=["SAVINGS"], include_dormant=False, total_chunks=1,
        chunks_completed=1, accounts_processed=5, accounts_succeeded=3, accounts_skipped=0, accounts_failed=2,
        totals_by_currency={"USD": "1.00"}, started_at=datetime.now(UTC), completed_at=datetime.now(UTC),
        error_message=error,
    )  # fmt: skip


class TestWhatIsAlerted:
    @pytest.mark.parametrize(
        ("status", "error", "blocked", "alerted_as"),
        [
            ("SUCCESS", None, 0, None),
            ("SUCCESS", None, 2, "SUCCESS"),  # a posting that blocked accounts
            ("PARTIAL", None, 0, "PARTIAL"),
            ("FAILED", "step failed", 0, "FAILED"),
            ("FAILED", "TIMED_OUT: ran over 60 s", 0, "TIMED_OUT"),
            ("CANCELLED", None, 0, None),
        ],
    )
    def test_failed_partial_timed_out_and_blocking_runs_are_alerted(
        self, status: str, error: str | None, blocked: int, alerted_as: str | None
    ) -> None:
        alert = alert_for(_row(status, error), blocked, "u")
        assert (alert.status if alert else None) == alerted_as
        if alert:
            assert alert.accounts_blocked == blocked

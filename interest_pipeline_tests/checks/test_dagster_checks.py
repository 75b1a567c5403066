"""The checks as Dagster shows them: real runs of both jobs record asset check evaluations (pass or
fail, figures, offending rows) in the instance's event log, where the UI reads them; the close ops
attach per-currency tables, and a month end's posting run requests the month report's own run."""

from collections.abc import Iterator
from datetime import date
from typing import Any

import dagster as dg
import psycopg
import pytest
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from interest_pipeline.accrual.job import build_accrual_job
from interest_pipeline.checks import sql as checks
from interest_pipeline.checks.dagster_checks import (
    ACCRUALS,
    ASSET_SPECS,
    CHECK_ASSETS,
    LEDGER,
    POSTINGS,
    verify_latest_books,
)
from interest_pipeline.definitions import defs
from interest_pipeline.posting.job import build_posting_job
from interest_pipeline.reporting import month_job
from interest_pipeline.reporting.month import month_report, render_table
from interest_pipeline.resources.database import DatabaseResource
from interest_pipeline.resources.ledger import PostgresLedgerResource
from interest_pipeline_tests.checks.books import ACCOUNTS, JAN_1, JAN_31, accrue_january, write_book


@pytest.fixture(scope="module")
def instance() -> Iterator[dg.DagsterInstance]:
    """A sqlite-backed instance: the same event log storage API the webserver reads checks from."""
    with dg.instance_for_test() as test_instance:
        yield test_instance


def run_both(
    instance: dg.DagsterInstance, day: date
) -> tuple[dg.ExecuteInProcessResult, dg.ExecuteInProcessResult]:
    accrual = build_accrual_job().execute_in_process(
        partition_key=day.isoformat(), instance=instance, resources={"database": DatabaseResource()}
    )
    posting = build_posting_job().execute_in_process(
        partition_key=day.isoformat(),
        instance=instance,
        resources={"database": DatabaseResource(), "ledger": PostgresLedgerResource()},
    )
    return accrual, posting


def latest(instance: dg.DagsterInstance, name: str) -> Any:
    [record] = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(CHECK_ASSETS[name], name), limit=1
    )
    return record


def close_metadata(result: dg.ExecuteInProcessResult, step: str) -> dict[str, Any]:
    [event] = [e for e in result.all_node_events if e.is_successful_output and e.step_key == step]
    return dict(event.event_specific_data.metadata)  # type: ignore[union-attr]


def report_after(
    instance: dg.DagsterInstance, posting: dg.ExecuteInProcessResult
) -> dg.RunRequest | dg.SkipReason:
    """What the month report's sensor says about the posting run `posting` (it succeeded)."""
    [event] = [e for e in posting.all_events if e.event_type == dg.DagsterEventType.RUN_SUCCESS]
    sensor = defs.get_sensor_def(month_job.SENSOR_NAME)
    context = dg.build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_instance=instance,
        dagster_run=posting.dagster_run,
        dagster_event=event,
    )
    outcome = sensor(context)
    assert isinstance(outcome, dg.RunRequest | dg.SkipReason)
    return outcome


def test_a_posting_run_of_a_day_that_is_no_month_end_requests_no_report(
    conn: psycopg.Connection, instance: dg.DagsterInstance
) -> None:
    write_book(conn)
    accrue_january(date(2025, 1, 29))
    accrual, posting = run_both(instance, date(2025, 1, 30))
    assert accrual.success and posting.success
    outcome = report_after(instance, posting)
    assert isinstance(outcome, dg.SkipReason)
    assert outcome.skip_message == f"posting run {posting.run_id} for 2025-01-30: not a month end"


def test_the_definitions_declare_each_check_on_its_asset() -> None:
    keys = set(defs.get_repository_def().asset_checks_defs_by_key)
    assert keys == {
        dg.AssetCheckKey(ACCRUALS, checks.ACCRUAL_OUTCOMES),
        dg.AssetCheckKey(POSTINGS, checks.CAPITALIZED_ACCRUALS_MATCH),
        dg.AssetCheckKey(POSTINGS, checks.GROSS_IS_NET_PLUS_TAX),
        dg.AssetCheckKey(POSTINGS, checks.DUE_ACCOUNTS_HAVE_OUTCOME),
        dg.AssetCheckKey(LEDGER, checks.JOURNALS_BALANCE),
        dg.AssetCheckKey(LEDGER, checks.JOURNALS_EQUAL_POSTINGS),
    }
    # the jobs are the same two op jobs as before
    assert sorted(n.name for n in build_posting_job().graph.nodes) == [
        "close_posting",
        "plan_posting",
        "post_chunk",
    ]


def test_runs_record_passed_checks_with_their_figures_and_tables(
    conn: psycopg.Connection, instance: dg.DagsterInstance
) -> None:
    write_book(conn)
    accrue_january(date(2025, 1, 30))
    accrual, posting = run_both(instance, JAN_31)
    assert accrual.success and posting.success

    record = latest(instance, checks.ACCRUAL_OUTCOMES)
    assert (record.status, record.run_id) == (AssetCheckExecutionRecordStatus.SUCCEEDED, accrual.run_id)
    evaluation = record.event.dagster_event.event_specific_data
    assert evaluation.passed is True
    assert evaluation.metadata["figures"].value["eligible_accounts"] == ACCOUNTS + 1
    assert evaluation.metadata["offending_count"].value == 0
    for name in (checks.JOURNALS_BALANCE, checks.GROSS_IS_NET_PLUS_TAX, checks.DUE_ACCOUNTS_HAVE_OUTCOME):
        record = latest(instance, name)
        assert (record.status, record.run_id) == (AssetCheckExecutionRecordStatus.SUCCEEDED, posting.run_id)
    gross = latest(instance, checks.GROSS_IS_NET_PLUS_TAX).event.dagster_event.event_specific_data
    stored = {
        c.strip(): {"postings": n, "gross": f"{g:f}", "tax": f"{t:f}", "net": f"{x:f}"}
        for c, n, g, t, x in conn.execute(
            "SELECT currency, count(*), sum(gross), sum(tax), sum(net) FROM interest_postings GROUP BY 1"
        )
    }
    assert gross.metadata["figures"].value["by_currency"] == stored

    # the posting run's table: one record per currency, exact strings
    metadata = close_metadata(posting, "close_posting")
    records = {r.data["currency"]: r.data for r in metadata["by_currency"].records}
    assert {c: (r["posted"], r["gross"], r["tax"], r["net"]) for c, r in records.items()} == {
        c: (v["postings"], v["gross"], v["tax"], v["net"]) for c, v in stored.items()
    }
    assert records["USD"]["accounts"] == 1 + sum(1 for n in range(1, ACCOUNTS + 1) if n % 3 == 0)
    assert records["USD"]["skipped"] == 1  # the zero-balance account: nothing to post
    assert metadata["checks_failed"].value == 0
    # The month report is a run of its own, requested by the month end's successful posting run.
    assert "month_report" not in metadata
    request = report_after(instance, posting)
    assert isinstance(request, dg.RunRequest)
    assert (request.partition_key, request.run_key) == (JAN_31.isoformat(), f"month-report-{posting.run_id}")
    report = defs.get_job_def(month_job.JOB_NAME).execute_in_process(
        partition_key=request.partition_key, instance=instance
    )
    report_metadata = close_metadata(report, "report_month")
    assert report_metadata["month_report"].value == render_table(month_report(conn, JAN_1, JAN_31))
    assert (report_metadata["month"].value, report_metadata["through"].value) == ("2025-01", "2025-01-31")
    assert "| USD" in report_metadata["month_report"].value

    accrual_records = {
        r.data["currency"]: r.data for r in close_metadata(accrual, "close_accrual")["by_currency"].records
    }
    amounts = {
        c.strip(): f"{a:f}"
        for c, a in conn.execute(
            "SELECT a.currency, sum(ia.amount) FROM interest_accruals ia JOIN accounts a ON a.id = ia.account_id"
            " WHERE ia.accrual_date = %s GROUP BY 1",
            (JAN_31,),
        )
    }
    assert {c: r["accrued"] for c, r in accrual_records.items()} == amounts


def test_a_failed_check_is_recorded_as_failed_with_its_offending_rows(
    conn: psycopg.Connection, instance: dg.DagsterInstance
) -> None:
    write_book(conn)
    accrue_january(date(2025, 1, 30))
    # a balanced journal valued on the 31st that no posting stands behind
    conn.execute(
        "INSERT INTO ledger_entries (journal_key, line_no, gl_account, account_id, debit, credit, currency, value_date)"
        " VALUES ('STRAY-1', 1, 'INTEREST_EXPENSE', NULL, 5.0000, 0, 'USD', %(d)s),"
        "        ('STRAY-1', 2, 'CUSTOMER_DEPOSITS', 1, 0, 5.0000, 'USD', %(d)s)",
        {"d": JAN_31},
    )
    _, posting = run_both(instance, JAN_31)
    assert posting.success  # the books were written; the check says they don't agree

    record = latest(instance, checks.JOURNALS_EQUAL_POSTINGS)
    assert (record.status, record.run_id) == (AssetCheckExecutionRecordStatus.FAILED, posting.run_id)
    evaluation = record.event.dagster_event.event_specific_data
    assert (evaluation.passed, evaluation.severity) == (False, dg.AssetCheckSeverity.ERROR)
    assert evaluation.metadata["offending_count"].value == 1
    assert "| STRAY-1 | USD | 5.0000 | None |" in evaluation.metadata["offending_rows"].value
    assert latest(instance, checks.JOURNALS_BALANCE).status == AssetCheckExecutionRecordStatus.SUCCEEDED
    assert close_metadata(posting, "close_posting")["checks_failed"].value == 1
    errors = [
        e.message
        for e in instance.all_logs(posting.run_id)
        if e.level >= 40 and "check journals_equal_postings_gross FAILED" in (e.message or "")
    ]
    assert len(errors) == 1


def test_the_checks_run_on_demand_against_the_latest_executions(
    conn: psycopg.Connection, instance: dg.DagsterInstance
) -> None:
    write_book(conn)
    accrue_january(date(2025, 1, 30))
    run_both(instance, JAN_31)
    # what the UI's "Execute" on one check launches: a run of that check alone
    verify = dg.define_asset_job(
        "verify", selection=dg.AssetSelection.checks(dg.AssetCheckKey(POSTINGS, checks.GROSS_IS_NET_PLUS_TAX))
    )
    job = dg.Definitions(
        assets=ASSET_SPECS,
        asset_checks=[verify_latest_books],
        jobs=[verify],
        resources={"database": DatabaseResource()},
    ).resolve_job_def("verify")
    result = job.execute_in_process(instance=instance)
    [evaluation] = result.get_asset_check_evaluations()
    assert (evaluation.check_name, evaluation.passed) == (checks.GROSS_IS_NET_PLUS_TAX, True)
    assert evaluation.metadata["business_date"].value == JAN_31.isoformat()

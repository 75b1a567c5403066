"""Ranged runs: one Dagster run over several business dates writes, date by date, what the dates'
single-date runs write, stops at the first date that fails, and every execution still leads to
its Dagster run (API, alerts, the next run's stale-execution check)."""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import dagster as dg
import psycopg
import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL

from interest_pipeline.accrual.job import build_accrual_job
from interest_pipeline.alerts.notifier import Alert, Channel, NotifierResource
from interest_pipeline.alerts.outcomes import handle_run_executions
from interest_pipeline.alerts.sensor import JOBS
from interest_pipeline.api.app import ApiService
from interest_pipeline.api.auth import Principal
from interest_pipeline.batch.config import BatchRunConfig
from interest_pipeline.batch.executions import ranged_execution_id, run_id_of
from interest_pipeline.batch.lifecycle import start_batch
from interest_pipeline.batch.tags import PARTITION_RANGE_END_TAG, PARTITION_RANGE_START_TAG
from interest_pipeline.data.generate import generate_book
from interest_pipeline.definitions import defs
from interest_pipeline.launch import LaunchedRun, launch_ranged_run
from interest_pipeline.pipeline import PipelineRunFailed, run_ranged
from interest_pipeline.posting.job import build_posting_job
from interest_pipeline.ranged.job import JOB_NAME, build_ranged_job, reconstructable_ranged_job
from interest_pipeline.ranged.ops import ACCRUAL, POSTING
from interest_pipeline.reporting import month_job
from interest_pipeline.resources.database import DatabaseResource, SessionDatabaseResource
from interest_pipeline.resources.ledger import PostgresLedgerResource
from interest_pipeline_tests.accrual.test_cli import refused_accruals
from interest_pipeline_tests.posting.fakes import FailingLedger
from interest_pipeline_tests.support.database import reset_data, seeded_config

# Two month-end nights and what follows: postings on Jan 31, accruals on every date.
FIRST, LAST = date(2025, 1, 29), date(2025, 2, 2)
DATES = [date(2025, 1, d) for d in (29, 30, 31)] + [date(2025, 2, d) for d in (1, 2)]
BOTH = (ACCRUAL, POSTING)

# What two runs that did the same work differ in: ids, clocks and the worker; nothing else.
NOT_COMPARED = {
    "id",
    "execution_id",
    "last_execution_id",
    "posting_id",
    # places on the accruals' clock (db/capitalization.py): their order matters, not their values
    "write_seq",
    "created_at",
    "updated_at",
    "started_at",
    "completed_at",
    "processing_time_ms",
    "worker_host",
    "worker_pid",
    "alerted_at",
}
MONEY_TABLES = ("interest_accruals", "interest_postings", "ledger_entries")
RUN_TABLES = ("interest_batch_execution", "interest_batch_account_result", "interest_batch_account_status")


def snapshot(conn: psycopg.Connection, tables: tuple[str, ...]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of `tables`, all columns but NOT_COMPARED, in a fixed order."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    for table in tables:
        columns = [
            c
            for (c,) in conn.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
                (table,),
            ).fetchall()
            if c not in NOT_COMPARED
        ]
        assert columns, table
        listed = ", ".join(columns)
        order = ", ".join(f"{c}::text" for c in columns)
        found[table] = [tuple(r) for r in conn.execute(f"SELECT {listed} FROM {table} ORDER BY {order}")]
    return found


@pytest.fixture(scope="module")
def instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.ephemeral()


def small_book(conn: psycopg.Connection) -> None:
    """Every product type, day count, posting frequency and tier mode, several currencies."""
    generate_book(conn, accounts=60, start=FIRST, days=len(DATES), seed=11, replace=True, discard_ledger=True)


def single_date_runs(instance: dg.DagsterInstance) -> None:
    resources = {"database": DatabaseResource(), "ledger": PostgresLedgerResource()}
    accrual = build_accrual_job(executor_def=dg.in_process_executor)
    posting = build_posting_job(executor_def=dg.in_process_executor)
    for day in DATES:
        for job in (accrual, posting):
            result = job.execute_in_process(
                partition_key=day.isoformat(), instance=instance, resources=resources
            )
            assert result.success


def ranged(instance: dg.DagsterInstance, job_types: tuple[str, ...] = BOTH) -> list[LaunchedRun]:
    """The ranged run as the CLI launches it: a real run of the job from the definitions."""
    return launch_ranged_run(
        dg.reconstructable(reconstructable_ranged_job), FIRST, LAST, job_types, instance=instance
    )


def executions(conn: psycopg.Connection) -> list[tuple[str, str, str]]:
    return [
        (str(d), j, s)
        for d, j, s in conn.execute(
            "SELECT business_date, job_type, status FROM interest_batch_execution ORDER BY started_at, id"
        )
    ]


class TestSameAsSingleDateRuns:
    def test_a_ranged_run_writes_exactly_what_the_single_date_runs_write(
        self, clean_db: URL, conn: psycopg.Connection, instance: dg.DagsterInstance
    ) -> None:
        small_book(conn)
        single_date_runs(instance)
        expected = snapshot(conn, MONEY_TABLES + RUN_TABLES)
        assert expected["interest_postings"], "the range must post something (Jan 31)"

        reset_data(clean_db, seeded_config(clean_db))
        small_book(conn)
        launched = ranged(instance)
        assert snapshot(conn, MONEY_TABLES + RUN_TABLES) == expected

        # one Dagster run; an execution per date and job, in order, each with its own derived id
        [run_id] = {o.run_id for o in launched}
        assert [(o.partition_key, o.job_type, o.success) for o in launched] == [
            (d.isoformat(), j, True) for d in DATES for j in BOTH
        ]
        ids = [r for (r,) in conn.execute("SELECT id FROM interest_batch_execution ORDER BY started_at")]
        assert ids == [ranged_execution_id(run_id, j, d) for d in DATES for j in BOTH]
        assert {run_id_of(i) for i in ids} == {run_id}
        run = instance.get_run_by_id(run_id)
        assert run is not None and run.job_name == JOB_NAME and run.status == dg.DagsterRunStatus.SUCCESS
        assert (run.tags[PARTITION_RANGE_START_TAG], run.tags[PARTITION_RANGE_END_TAG]) == (
            FIRST.isoformat(),
            LAST.isoformat(),
        )
        # the checks ran per execution, logged on the run as asset check evaluations
        evaluations = instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        ).records
        per_date = len(evaluations) / len(DATES)
        assert per_date == int(per_date) and per_date >= 2
        # it posted Jan 31: the month report's sensor requests that month's report, as it would
        # after Jan 31's own posting run
        requests = month_report_after(instance, run)
        assert isinstance(requests, list)
        assert [(r.partition_key, r.run_key, r.job_name) for r in requests] == [
            ("2025-01-31", f"month-report-{run_id}-2025-01-31", None)
        ]

    def test_a_range_run_again_writes_no_new_money_rows(
        self, conn: psycopg.Connection, instance: dg.DagsterInstance
    ) -> None:
        small_book(conn)
        ranged(instance)
        money = snapshot(conn, MONEY_TABLES)
        again = ranged(instance)
        assert all(o.success for o in again) and len(again) == 2 * len(DATES)
        assert snapshot(conn, MONEY_TABLES) == money
        # as a single-date re-run does: a new execution per date and job, the same outcome
        assert sorted(executions(conn)) == sorted(
            [(d.isoformat(), j, "SUCCESS") for d in DATES for j in BOTH] * 2
        )


def month_report_after(instance: dg.DagsterInstance, run: dg.DagsterRun) -> Any:
    """What the month report's sensor (the definitions') says of the successful run `run`."""
    [record] = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_SUCCESS).records
    sensor = defs.get_sensor_def(month_job.SENSOR_NAME)
    return sensor(
        dg.build_run_status_sensor_context(
            sensor_name=sensor.name,
            dagster_instance=instance,
            dagster_run=run,
            dagster_event=record.event_log_entry.dagster_event,  # type: ignore[arg-type]
        )
    )


class TestMonthReportRequests:
    def ranged_run(self, start: str, end: str, job_types: list[str] | None = None) -> dg.DagsterRun:
        config = {"ops": {"run_dates": {"config": {"job_types": job_types}}}} if job_types else {}
        return dg.DagsterRun(
            job_name=JOB_NAME,
            run_id="r1",
            run_config=config,
            tags={PARTITION_RANGE_START_TAG: start, PARTITION_RANGE_END_TAG: end},
        )

    def test_one_request_per_month_end_of_the_range_in_order(self) -> None:
        requests = month_job.report_requests(self.ranged_run("2024-12-15", "2025-03-01"))
        assert isinstance(requests, list)
        assert [(r.partition_key, r.run_key) for r in requests] == [
            (d, f"month-report-r1-{d}") for d in ("2024-12-31", "2025-01-31", "2025-02-28")
        ]

    def test_a_range_without_month_end_or_without_postings_requests_none(self) -> None:
        outcome = month_job.report_requests(self.ranged_run("2025-01-02", "2025-01-30"))
        assert isinstance(outcome, dg.SkipReason)
        assert outcome.skip_message == "ranged run r1 for 2025-01-02..2025-01-30: no month end"
        outcome = month_job.report_requests(self.ranged_run("2025-01-02", "2025-02-05", [ACCRUAL]))
        assert isinstance(outcome, dg.SkipReason)
        assert outcome.skip_message == "ranged run r1 posted nothing (job types ['daily_interest_accrual'])"
        requests = month_job.report_requests(self.ranged_run("2025-01-02", "2025-02-05", [POSTING]))
        assert [r.partition_key for r in requests] == ["2025-01-31"]  # type: ignore[union-attr]


class TestStopsAtTheFirstFailure:
    def test_a_failing_accrual_date_fails_the_run_and_no_later_date_runs(
        self, conn: psycopg.Connection, instance: dg.DagsterInstance
    ) -> None:
        small_book(conn)
        with refused_accruals(conn, "2025-01-31"):
            launched = ranged(instance)
        assert [(o.partition_key, o.job_type, o.success) for o in launched] == [
            ("2025-01-29", ACCRUAL, True),
            ("2025-01-29", POSTING, True),
            ("2025-01-30", ACCRUAL, True),
            ("2025-01-30", POSTING, True),
            ("2025-01-31", ACCRUAL, False),
        ]
        failed = launched[-1]
        assert (
            failed.status == "FAILURE" and failed.error and "accruals of 2025-01-31 refused" in failed.error
        )
        assert executions(conn) == [
            ("2025-01-29", ACCRUAL, "SUCCESS"),
            ("2025-01-29", POSTING, "SUCCESS"),
            ("2025-01-30", ACCRUAL, "SUCCESS"),
            ("2025-01-30", POSTING, "SUCCESS"),
            ("2025-01-31", ACCRUAL, "FAILED"),
        ]
        message = conn.execute(
            "SELECT error_message FROM interest_batch_execution WHERE status = 'FAILED'"
        ).fetchone()
        assert message is not None and "accruals of 2025-01-31 refused" in message[0]
        later = conn.execute(
            "SELECT (SELECT count(*) FROM interest_accruals WHERE accrual_date >= '2025-01-31'),"
            " (SELECT count(*) FROM interest_postings WHERE posting_date >= '2025-01-31'),"
            " (SELECT count(*) FROM interest_batch_account_result WHERE business_date >= '2025-01-31')"
        ).fetchone()
        assert later == (0, 0, 0)

    def test_a_failing_posting_date_closes_that_execution_failed(
        self, conn: psycopg.Connection, instance: dg.DagsterInstance
    ) -> None:
        small_book(conn)
        posted = conn.execute(
            "SELECT min(a.id) FROM accounts a JOIN interest_products p ON p.code = a.product_code"
            " WHERE p.posting_frequency = 'MONTHLY' AND a.status = 'ACTIVE'"
        ).fetchone()
        assert posted is not None and posted[0] is not None
        result = build_ranged_job().execute_in_process(
            instance=instance,
            tags={PARTITION_RANGE_START_TAG: FIRST.isoformat(), PARTITION_RANGE_END_TAG: LAST.isoformat()},
            resources={
                "database": DatabaseResource(),
                "ledger": FailingLedger(fail_for_account_id=posted[0]),
            },
            raise_on_error=False,
        )
        assert not result.success
        assert executions(conn)[-2:] == [
            ("2025-01-31", ACCRUAL, "SUCCESS"),
            ("2025-01-31", POSTING, "FAILED"),
        ]
        assert conn.execute(
            "SELECT count(*) FROM interest_postings WHERE posting_date >= '2025-01-31'"
        ).fetchone() == (0,)
        assert conn.execute(
            "SELECT count(*) FROM interest_accruals WHERE accrual_date > '2025-01-31'"
        ).fetchone() == (0,)


@dataclass
class Recorded(Channel):
    alerts: list[Alert] = field(default_factory=list)

    def send(self, alert: Alert) -> None:
        self.alerts.append(alert)


RECORDED = Recorded()


class RecordingNotifier(NotifierResource):
    def channels(self) -> list[Channel]:
        return [RECORDED]


@dataclass
class FakeDagsterRuns:
    """Dagster's GraphQL as the API sees it; remembers what it was asked about."""

    asked: list[tuple[str, str]] = field(default_factory=list)

    def launch(self, job_name: str, run_config: Mapping[str, Any], tags: Mapping[str, str]) -> str:
        raise AssertionError("not expected")

    def status(self, run_id: str) -> str | None:
        self.asked.append(("status", run_id))
        return "CANCELED"

    def terminate(self, run_id: str) -> None:
        self.asked.append(("terminate", run_id))

    def add_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        self.asked.append(("add_tags", run_id))

    def run_url(self, run_id: str) -> str:
        return f"http://dagster.invalid/runs/{run_id}"


@pytest.fixture
def api_engine(clean_db: URL) -> Iterator[Engine]:
    engine = create_engine(clean_db)
    yield engine
    engine.dispose()


class TestEachExecutionFindsItsRun:
    def test_alerts_name_the_run_and_the_execution(
        self, conn: psycopg.Connection, instance: dg.DagsterInstance
    ) -> None:
        small_book(conn)
        with refused_accruals(conn, "2025-01-30"):
            result = build_ranged_job().execute_in_process(
                instance=instance,
                tags={
                    PARTITION_RANGE_START_TAG: FIRST.isoformat(),
                    PARTITION_RANGE_END_TAG: LAST.isoformat(),
                },
                resources={"database": DatabaseResource(), "ledger": PostgresLedgerResource()},
                raise_on_error=False,
            )
        RECORDED.alerts.clear()
        sent = handle_run_executions(instance, result.dagster_run, DatabaseResource(), RecordingNotifier())
        run_id = result.run_id
        failed_id = ranged_execution_id(run_id, ACCRUAL, date(2025, 1, 30))
        assert [(a.status, a.run_id, a.execution_id, a.business_date) for a in RECORDED.alerts] == [
            ("FAILED", run_id, failed_id, "2025-01-30")
        ]
        assert RECORDED.alerts[0].run_url.endswith(f"/runs/{run_id}")
        assert sent == RECORDED.alerts
        # alerted once: the sensor seeing the run again sends nothing
        assert (
            handle_run_executions(instance, result.dagster_run, DatabaseResource(), RecordingNotifier()) == []
        )
        assert JOB_NAME in JOBS  # the run-outcome sensor looks at ranged runs

    def test_the_api_links_and_cancels_the_run_of_a_ranged_execution(
        self, api_engine: Engine, conn: psycopg.Connection
    ) -> None:
        run_id = "0f3c2a1e-1111-2222-3333-444455556666"
        execution_id = ranged_execution_id(run_id, ACCRUAL, date(2025, 1, 30))
        conn.execute(
            "INSERT INTO interest_batch_execution (id, job_type, business_date, trigger, status, account_types)"
            " VALUES (%s, %s, '2025-01-30', 'MANUAL', 'RUNNING', '{SAVINGS}')",
            (execution_id, ACCRUAL),
        )
        fake = FakeDagsterRuns()
        service = ApiService(engine=api_engine, dagster=fake)
        admin = Principal(name="ops-admin", role="admin")
        found = service.execute(
            admin,
            {
                "query": "query($id: ID!) { getInterestBatchExecution(id: $id) { id dagsterRunUrl } }",
                "variables": {"id": execution_id},
            },
        )
        assert found == {
            "data": {
                "getInterestBatchExecution": {
                    "id": execution_id,
                    "dagsterRunUrl": f"http://dagster.invalid/runs/{run_id}",
                }
            }
        }
        cancelled = service.execute(
            admin,
            {
                "query": "mutation($id: ID!) { cancelInterestBatchExecution(id: $id) { id status } }",
                "variables": {"id": execution_id},
            },
        )
        assert cancelled == {
            "data": {"cancelInterestBatchExecution": {"id": execution_id, "status": "CANCELLED"}}
        }
        assert {what for what, _ in fake.asked} >= {"add_tags", "terminate"}
        assert {run for _, run in fake.asked} == {run_id}

    def test_the_next_run_asks_dagster_about_a_ranged_executions_run(self, conn: psycopg.Connection) -> None:
        small_book(conn)
        run_id = "7d1e0c55-aaaa-bbbb-cccc-ddddeeeeffff"
        stale = ranged_execution_id(run_id, ACCRUAL, date(2025, 1, 29))
        conn.execute(
            "INSERT INTO interest_batch_execution (id, job_type, business_date, trigger, status, account_types)"
            " VALUES (%s, %s, '2025-01-29', 'MANUAL', 'RUNNING', '{SAVINGS}')",
            (stale, ACCRUAL),
        )
        asked: list[str] = []

        def state(asked_run: str) -> str | None:
            asked.append(asked_run)
            return "FAILED" if asked_run == run_id else None

        start_batch(
            DatabaseResource(),
            job_type=ACCRUAL,
            run_id="next-run",
            business_date=date(2025, 1, 29),
            trigger="MANUAL",
            run_config=BatchRunConfig(),
            run_state=state,
        )
        assert asked == [run_id]
        closed = conn.execute(
            "SELECT status, error_message FROM interest_batch_execution WHERE id = %s", (stale,)
        )
        assert closed.fetchone() == ("FAILED", "the Dagster run ended FAILED without closing its execution")


class TestPipeline:
    def test_run_ranged_raises_at_the_failed_date_counting_what_did_not_run(
        self, conn: psycopg.Connection, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        small_book(conn)
        monkeypatch.setattr("interest_pipeline.launch.configured_instance", lambda: instance)
        heard: list[tuple[str, str]] = []
        with refused_accruals(conn, "2025-02-01"), pytest.raises(PipelineRunFailed) as failed:
            run_ranged(FIRST, LAST, BOTH, on_finished=lambda o, job: heard.append((o.partition_key, job)))
        assert heard == [(d.isoformat(), j) for d in DATES[:3] for j in BOTH] + [("2025-02-01", ACCRUAL)]
        assert "3 later run(s) not launched" in str(failed.value)


class TestSessionDatabase:
    def test_each_block_is_its_own_transaction_on_one_connection(self, conn: psycopg.Connection) -> None:
        session = SessionDatabaseResource()
        try:
            with session.connect() as first:
                first.execute("CREATE TABLE session_probe (n int)")
                first.execute("INSERT INTO session_probe VALUES (1)")
            with pytest.raises(RuntimeError), session.connect() as second:
                second.execute("INSERT INTO session_probe VALUES (2)")
                raise RuntimeError("the block fails")
            assert second is first  # the same connection, its failed block rolled back
            with session.connect() as third:
                assert third is first
                assert third.execute("SELECT n FROM session_probe").fetchall() == [(1,)]
            # committed: another connection sees it
            assert conn.execute("SELECT n FROM session_probe").fetchall() == [(1,)]
        finally:
            session.close()
            conn.execute("DROP TABLE IF EXISTS session_probe")

    def test_a_broken_connection_is_replaced_by_the_next_block(self, conn: psycopg.Connection) -> None:
        session = SessionDatabaseResource()
        try:
            with session.connect() as first:
                pid = first.info.backend_pid
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
            with pytest.raises(psycopg.OperationalError), session.connect() as broken:
                broken.execute("SELECT 1")
            with session.connect() as fresh:
                assert fresh.info.backend_pid != pid
                assert fresh.execute("SELECT 1").fetchone() == (1,)
        finally:
            session.close()


class TestAFailedChunk:
    def test_the_dates_other_chunks_still_run_as_in_a_single_date_run(
        self, clean_db: URL, conn: psycopg.Connection, instance: dg.DagsterInstance
    ) -> None:
        """60 accounts in chunks of at most 20, a multiple of the 2 parallel threads (four of 15), the
        third failing: both runs leave the same rows."""
        day = DATES[0].isoformat()

        def refused_middle_chunk() -> Any:
            [(account_id,)] = conn.execute("SELECT id FROM accounts ORDER BY id OFFSET 30 LIMIT 1").fetchall()
            conn.execute(
                "CREATE OR REPLACE FUNCTION refuse_account() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                f" IF NEW.account_id = {account_id} THEN RAISE check_violation USING MESSAGE = 'account refused';"
                " END IF; RETURN NEW; END $$"
            )
            conn.execute(
                "CREATE TRIGGER refuse_account BEFORE INSERT ON interest_accrual_entries"
                " FOR EACH ROW EXECUTE FUNCTION refuse_account()"
            )

        def drop_refusal() -> None:
            conn.execute("DROP TRIGGER IF EXISTS refuse_account ON interest_accrual_entries")
            conn.execute("DROP FUNCTION IF EXISTS refuse_account()")

        resources = {"database": DatabaseResource(), "ledger": PostgresLedgerResource()}
        try:
            small_book(conn)
            refused_middle_chunk()
            single = build_accrual_job(executor_def=dg.in_process_executor).execute_in_process(
                partition_key=day,
                instance=instance,
                resources=resources,
                run_config={"ops": {"plan_accrual": {"config": {"batch_size": 20}}}},
                raise_on_error=False,
            )
            assert not single.success
            expected = snapshot(conn, MONEY_TABLES + RUN_TABLES)
            drop_refusal()

            reset_data(clean_db, seeded_config(clean_db))
            small_book(conn)
            refused_middle_chunk()
            result = build_ranged_job().execute_in_process(
                instance=instance,
                tags={PARTITION_RANGE_START_TAG: day, PARTITION_RANGE_END_TAG: LAST.isoformat()},
                resources=resources,
                run_config={
                    "ops": {"run_dates": {"config": {"job_types": [ACCRUAL], "accrual": {"batch_size": 20}}}}
                },
                raise_on_error=False,
            )
            assert not result.success
            found = snapshot(conn, MONEY_TABLES + RUN_TABLES)
        finally:
            drop_refusal()
        [single_row] = expected.pop("interest_batch_execution")
        [ranged_row] = found.pop("interest_batch_execution")
        assert found == expected
        assert expected["interest_accruals"], "the other three chunks accrued"
        # the same row but for the failing step's name in the error message
        columns = [
            c
            for (c,) in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'interest_batch_execution'"
                " ORDER BY ordinal_position"
            ).fetchall()
            if c not in NOT_COMPARED
        ]
        message = columns.index("error_message")
        assert (single_row[:message] + single_row[message + 1 :]) == (
            ranged_row[:message] + ranged_row[message + 1 :]
        )
        assert "account refused" in single_row[message] and "account refused" in ranged_row[message]
        assert single_row[columns.index("total_chunks")] == 4
        assert single_row[columns.index("chunks_completed")] == 3

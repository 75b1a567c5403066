"""The sensor that follows a successful accrual run, and the seeded 01:00 config-row schedule."""

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg
import psycopg
import pytest

from interest_pipeline.accrual.job import JOB_NAME as ACCRUAL_JOB
from interest_pipeline.batch import config_schedule
from interest_pipeline.batch.tags import POSTING_FOLLOWS_TAG
from interest_pipeline.definitions import defs
from interest_pipeline.posting.schedule import previous_business_date
from interest_pipeline.resources.database import DatabaseResource
from interest_pipeline_tests.posting.support import Book, product


@pytest.fixture
def book(conn: psycopg.Connection) -> Book:
    book = Book()
    book.add_account(book.add_product(product("SAV")), 1)
    book.write(conn)
    return book


def evaluate_sensor(
    instance: dg.DagsterInstance, tags: dict[str, str] | None = None
) -> dg.RunRequest | dg.SkipReason:
    result = defs.get_job_def(ACCRUAL_JOB).execute_in_process(
        partition_key="2025-01-31", instance=instance, tags=tags or {}
    )
    [event] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_SUCCESS]
    sensor = defs.get_sensor_def("interest_posting_after_accrual")
    context = dg.build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=event,
        resources={"database": DatabaseResource()},
    )
    outcome = sensor(context)
    assert isinstance(outcome, dg.RunRequest | dg.SkipReason)
    return outcome


class TestSensor:
    def test_successful_accrual_requests_posting_of_its_date_once(self, book: Book) -> None:
        with dg.instance_for_test() as instance:
            request = evaluate_sensor(instance)
            assert isinstance(request, dg.RunRequest)
            assert request.partition_key == "2025-01-31"
            assert request.run_key is not None and request.run_key.startswith("after-accrual-")
            assert request.job_name in (None, "interest_posting")
            # The posting row's timeout_seconds (seeded 3600), for run monitoring to enforce.
            assert request.tags["dagster/max_runtime"] == "3600"

    def test_accrual_launched_by_run_command_is_left_to_it(self, book: Book) -> None:
        with dg.instance_for_test() as instance:
            assert isinstance(evaluate_sensor(instance, {POSTING_FOLLOWS_TAG: "cli-run"}), dg.SkipReason)

    def test_disabled_config_requests_nothing(self, conn: psycopg.Connection, book: Book) -> None:
        conn.execute("UPDATE interest_batch_config SET enabled = false WHERE job_type = 'interest_posting'")
        with dg.instance_for_test() as instance:
            assert isinstance(evaluate_sensor(instance), dg.SkipReason)


class TestSchedule:
    def test_the_seeded_one_am_tick_posts_the_previous_day(
        self, book: Book, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        tick = datetime(2025, 2, 1, 1, 0, 5, tzinfo=ZoneInfo("UTC"))
        monkeypatch.setattr(config_schedule, "now_utc", lambda: tick)
        context = dg.build_sensor_context(
            cursor=json.dumps({"evaluated_at": tick.timestamp() - 30}),
            resources={"database": DatabaseResource()},
            repository_def=defs.get_repository_def(),
        )
        [request] = defs.get_sensor_def("interest_posting_schedule").evaluate_tick(context).run_requests
        assert request.partition_key == "2025-01-31"
        assert request.tags["interest_pipeline/trigger"] == "SCHEDULE"

    def test_previous_date_is_local(self) -> None:
        # 00:30 UTC on Feb 1 is 01:30 on Feb 1 in Zurich, whose previous day is Jan 31
        assert previous_business_date(
            datetime(2025, 2, 1, 0, 30, tzinfo=ZoneInfo("UTC")), "Europe/Zurich"
        ) == (datetime(2025, 1, 31).date())

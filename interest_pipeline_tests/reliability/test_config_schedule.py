"""The config rows drive the schedules: each enabled row's cron, read at every evaluation."""

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dagster as dg
import psycopg
import pytest

from interest_pipeline.accrual.schedule import business_date_ended_at
from interest_pipeline.batch import config_schedule
from interest_pipeline.batch.config import ConfigSchedule
from interest_pipeline.batch.config_schedule import evaluate_rows
from interest_pipeline.definitions import defs
from interest_pipeline.resources.database import DatabaseResource

START = date(2020, 1, 1)


def _cursor(at: datetime) -> str:
    return json.dumps({"evaluated_at": at.timestamp()})


def _evaluate(sensor: dg.SensorDefinition, cursor: str | None) -> Any:
    """One evaluation as the daemon does it: real rows, real clock, the project's repository."""
    context = dg.build_sensor_context(
        cursor=cursor, resources={"database": DatabaseResource()}, repository_def=defs.get_repository_def()
    )
    return sensor.evaluate_tick(context)


def _row(cron: str, enabled: bool = True, row_id: int = 1) -> ConfigSchedule:
    return ConfigSchedule(
        id=row_id,
        job_type="daily_interest_accrual",
        cron_expression=cron,
        enabled=enabled,
        timeout_seconds=900,
    )


class TestEvaluateRows:
    def test_the_latest_tick_since_the_cursor_requests_its_business_date_keyed_by_row_and_tick(self) -> None:
        now = datetime(2025, 3, 1, 0, 0, 20, tzinfo=UTC)
        result = evaluate_rows(
            [_row("0 0 * * *")],
            now=now,
            cursor=_cursor(now - timedelta(seconds=30)),
            timezone="UTC",
            partitions_start=START,
            business_date_of=business_date_ended_at,
        )
        [request] = result.requests
        assert (request.partition_key, request.run_key) == (
            "2025-02-28",
            "config-1-2025-03-01T00:00:00+00:00",
        )
        assert request.tags["interest_pipeline/config_id"] == "1"
        assert request.tags["interest_pipeline/trigger"] == "SCHEDULE"
        assert request.tags["dagster/max_runtime"] == "900"
        assert json.loads(result.cursor) == {"evaluated_at": now.timestamp()}

    def test_the_cron_is_read_in_the_business_timezone(self) -> None:
        # Midnight in Zurich is 23:00 UTC in winter: the tick ends 2025-02-28 there.
        now = datetime(2025, 2, 28, 23, 0, 10, tzinfo=UTC)
        result = evaluate_rows(
            [_row("0 0 * * *")],
            now=now,
            cursor=_cursor(now - timedelta(seconds=30)),
            timezone="Europe/Zurich",
            partitions_start=START,
            business_date_of=business_date_ended_at,
        )
        assert [r.partition_key for r in result.requests] == ["2025-02-28"]

    def test_no_tick_since_the_cursor_disabled_bad_cron_and_early_date_are_skips_with_reasons(self) -> None:
        now = datetime(2025, 3, 1, 0, 0, 20, tzinfo=UTC)
        result = evaluate_rows(
            [
                _row("0 6 * * *", row_id=1),
                _row("0 0 * * *", enabled=False, row_id=2),
                _row("every night", row_id=3),
                _row("0 0 * * *", row_id=4),
            ],
            now=now,
            cursor=_cursor(now - timedelta(seconds=30)),
            timezone="UTC",
            partitions_start=date(2025, 3, 1),
            business_date_of=business_date_ended_at,
        )
        assert result.requests == []
        assert result.skips == [
            "config row 1 (daily_interest_accrual): no tick of '0 6 * * *' since 2025-02-28T23:59:50+00:00",
            "config row 2 (daily_interest_accrual) is disabled (enabled = false): no run",
            "config row 3 (daily_interest_accrual): cron_expression 'every night' is not a valid 5-field cron",
            "config row 4 (daily_interest_accrual): 2025-02-28 is before the partitions' start 2025-03-01",
        ]

    def test_every_enabled_row_of_the_job_gets_its_own_run(self) -> None:
        now = datetime(2025, 3, 1, 0, 0, 20, tzinfo=UTC)
        result = evaluate_rows(
            [_row("0 0 * * *", row_id=1), _row("0 0 * * *", row_id=7)],
            now=now,
            cursor=_cursor(now - timedelta(seconds=30)),
            timezone="UTC",
            partitions_start=START,
            business_date_of=business_date_ended_at,
        )
        assert [r.tags["interest_pipeline/config_id"] for r in result.requests] == ["1", "7"]
        # each run uses its own row: the plan op's config names it
        assert [r.run_config for r in result.requests] == [
            {"ops": {"plan_accrual": {"config": {"config_id": 1}}}},
            {"ops": {"plan_accrual": {"config": {"config_id": 7}}}},
        ]
        assert len({r.run_key for r in result.requests}) == 2

    def test_a_first_evaluation_replays_nothing(self) -> None:
        now = datetime(2025, 3, 1, 0, 0, 20, tzinfo=UTC)
        result = evaluate_rows(
            [_row("* * * * *")],
            now=now,
            cursor=None,
            timezone="UTC",
            partitions_start=START,
            business_date_of=business_date_ended_at,
        )
        assert result.requests == []


NOW = datetime(2025, 3, 1, 0, 0, 20, tzinfo=UTC)


@pytest.fixture
def at_midnight(monkeypatch: pytest.MonkeyPatch) -> datetime:
    """The sensor's clock just after 2025-03-01 00:00 UTC; everything else is real."""
    monkeypatch.setattr(config_schedule, "now_utc", lambda: NOW)
    return NOW


class TestTheSensorReadsTheRowEachTick:
    def test_a_cron_changed_in_the_row_changes_the_next_tick_without_a_reload(
        self, conn: psycopg.Connection, at_midnight: datetime
    ) -> None:
        cursor = _cursor(at_midnight - timedelta(seconds=30))
        seeded = _evaluate(defs.get_sensor_def("daily_interest_accrual_schedule"), cursor)
        [request] = seeded.run_requests
        assert request.partition_key == "2025-02-28"
        row_id = conn.execute(
            "SELECT id FROM interest_batch_config WHERE job_type = 'daily_interest_accrual'"
        ).fetchone()
        assert request.tags["interest_pipeline/config_id"] == str(row_id[0])  # type: ignore[index]

        conn.execute(
            "UPDATE interest_batch_config SET cron_expression = '0 6 * * *'"
            " WHERE job_type = 'daily_interest_accrual'"
        )
        moved = _evaluate(defs.get_sensor_def("daily_interest_accrual_schedule"), cursor)
        assert moved.run_requests == []
        assert "no tick of '0 6 * * *'" in moved.skip_message

    def test_a_disabled_row_runs_nothing_and_the_tick_says_why(
        self, conn: psycopg.Connection, at_midnight: datetime
    ) -> None:
        conn.execute(
            "UPDATE interest_batch_config SET enabled = false WHERE job_type = 'daily_interest_accrual'"
        )
        result = _evaluate(
            defs.get_sensor_def("daily_interest_accrual_schedule"),
            _cursor(at_midnight - timedelta(seconds=30)),
        )
        assert result.run_requests == []
        assert "(daily_interest_accrual) is disabled (enabled = false): no run" in result.skip_message

    def test_a_day_that_has_not_ended_is_not_requested(self, conn: psycopg.Connection) -> None:
        conn.execute(
            "UPDATE interest_batch_config SET cron_expression = '* * * * *'"
            " WHERE job_type = 'daily_interest_accrual'"
        )
        result = _evaluate(
            defs.get_sensor_def("daily_interest_accrual_schedule"),
            _cursor(datetime.now(UTC) - timedelta(minutes=2)),
        )
        assert result.run_requests == []
        assert "has not ended yet" in result.skip_message

"""The daily schedule: 00:00 in the business timezone, for the day that just ended; skipped when disabled."""

from datetime import UTC, date, datetime

import dagster as dg
import psycopg
import pytest

from interest_pipeline.accrual.schedule import business_date_ended_at, daily_interest_accrual_schedule
from interest_pipeline.definitions import defs
from interest_pipeline.resources.database import DatabaseResource
from interest_pipeline_tests.support.schedules import next_tick


def _evaluate(tick: datetime) -> object:
    """A tick as the daemon evaluates it, inside the project's repository (partitions resolved)."""
    context = dg.build_schedule_context(
        scheduled_execution_time=tick,
        resources={"database": DatabaseResource()},
        repository_def=defs.get_repository_def(),
    )
    return daily_interest_accrual_schedule.evaluate_tick(context)


class TestSchedule:
    def test_the_tick_after_a_business_day_is_its_midnight_and_requests_that_day(
        self, conn: psycopg.Connection
    ) -> None:
        tick = next_tick(daily_interest_accrual_schedule, datetime(2025, 2, 28, 12, 0, tzinfo=UTC))
        assert tick == datetime(2025, 3, 1, 0, 0, tzinfo=UTC)  # the default business timezone is UTC
        data = _evaluate(tick)
        [request] = data.run_requests  # type: ignore[attr-defined]
        assert (request.partition_key, request.run_key) == ("2025-02-28", "2025-02-28")

    def test_skipped_when_the_config_row_is_disabled(self, conn: psycopg.Connection) -> None:
        conn.execute(
            "UPDATE interest_batch_config SET enabled = false WHERE job_type = 'daily_interest_accrual'"
        )
        data = _evaluate(datetime(2025, 3, 1, 0, 0, tzinfo=UTC))
        assert data.run_requests == []  # type: ignore[attr-defined]
        assert "disabled" in data.skip_message  # type: ignore[attr-defined]
        assert "2025-02-28" in data.skip_message  # type: ignore[attr-defined]

    @pytest.mark.parametrize(
        ("tick", "timezone", "expected"),
        [
            (datetime(2025, 1, 1, 0, 0, tzinfo=UTC), "UTC", date(2024, 12, 31)),
            # midnight in Zurich is 23:00 UTC the day before
            (datetime(2025, 3, 9, 23, 0, tzinfo=UTC), "Europe/Zurich", date(2025, 3, 9)),
            (datetime(2025, 3, 9, 15, 0, tzinfo=UTC), "Asia/Tokyo", date(2025, 3, 9)),
        ],
    )
    def test_business_date_is_the_local_day_before_the_tick(
        self, tick: datetime, timezone: str, expected: date
    ) -> None:
        assert business_date_ended_at(tick, timezone) == expected

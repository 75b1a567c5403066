"""The daily schedule: 00:00 in the business timezone, for the day that just ended; skipped when disabled."""

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dagster as dg
import psycopg
import pytest

from interest_pipeline.accrual.schedule import business_date_ended_at
from interest_pipeline.batch import config_schedule
from interest_pipeline.definitions import defs
from interest_pipeline.resources.database import DatabaseResource


def _evaluate(tick: datetime, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A tick as the daemon evaluates it, 5 s after `tick`, inside the project's repository."""
    monkeypatch.setattr(config_schedule, "now_utc", lambda: tick + timedelta(seconds=5))
    context = dg.build_sensor_context(
        cursor=json.dumps({"evaluated_at": (tick - timedelta(seconds=25)).timestamp()}),
        resources={"database": DatabaseResource()},
        repository_def=defs.get_repository_def(),
    )
    return defs.get_sensor_def("daily_interest_accrual_schedule").evaluate_tick(context)


def _row_id(conn: psycopg.Connection) -> int:
    row = conn.execute(
        "SELECT id FROM interest_batch_config WHERE job_type = 'daily_interest_accrual'"
    ).fetchone()
    assert row is not None
    return int(row[0])


class TestSchedule:
    def test_the_seeded_midnight_tick_requests_the_day_that_ended(
        self, conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        [request] = _evaluate(datetime(2025, 3, 1, 0, 0, tzinfo=UTC), monkeypatch).run_requests
        assert (request.partition_key, request.run_key) == (
            "2025-02-28",
            f"config-{_row_id(conn)}-2025-03-01T00:00:00+00:00",
        )

    def test_skipped_when_the_config_row_is_disabled(
        self, conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        conn.execute(
            "UPDATE interest_batch_config SET enabled = false WHERE job_type = 'daily_interest_accrual'"
        )
        data = _evaluate(datetime(2025, 3, 1, 0, 0, tzinfo=UTC), monkeypatch)
        assert data.run_requests == []
        assert "disabled" in data.skip_message

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

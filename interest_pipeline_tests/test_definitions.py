"""The code location loads from workspace.yaml as the webserver loads it: job, partitions, schedule, sensors."""

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import psycopg
import pytest
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import WorkspaceFileTarget

from interest_pipeline.settings import REPO_ROOT


@pytest.fixture(scope="module")
def location() -> Iterator[object]:
    with (
        dg.instance_for_test() as instance,
        WorkspaceProcessContext(
            instance, WorkspaceFileTarget(paths=[str(REPO_ROOT / "workspace.yaml")])
        ) as process_context,
    ):
        context = process_context.create_request_context()
        [entry] = context.get_code_location_entries().values()
        assert entry.load_error is None, entry.load_error
        assert entry.code_location is not None
        yield entry.code_location


class TestCodeLocation:
    @pytest.mark.parametrize("job_name", ["daily_interest_accrual", "interest_posting"])
    def test_partitions_are_every_ended_business_day_from_the_configured_start(
        self, location: object, job_name: str
    ) -> None:
        """What the UI's partition view lists: one key per day from 2020-01-01 to yesterday (UTC)."""
        [repository] = location.get_repositories().values()  # type: ignore[attr-defined]
        [partition_set] = [p for p in repository.get_partition_sets() if p.job_name == job_name]
        yesterday = datetime.now(UTC).date() - timedelta(days=1)
        keys = partition_set.get_partition_names(dg.DagsterInstance.ephemeral())
        assert keys[:3] == ["2020-01-01", "2020-01-02", "2020-01-03"]
        assert keys[-1] in {yesterday.isoformat(), (datetime.now(UTC).date() - timedelta(days=1)).isoformat()}
        assert len(keys) == len(set(keys)) == (date.fromisoformat(keys[-1]) - date(2020, 1, 1)).days + 1
        assert partition_set.get_partitions_definition().timezone == "UTC"

    def test_each_schedule_fires_on_its_jobs_seeded_cron(self, conn: psycopg.Connection) -> None:
        """The crons are fixed when the definitions load; they must agree with the seeded config rows."""
        from interest_pipeline.definitions import defs

        seeded = dict(conn.execute("SELECT job_type, cron_expression FROM interest_batch_config").fetchall())
        schedules = defs.get_repository_def().schedule_defs
        assert {s.job_name: s.cron_schedule for s in schedules} == seeded

    def test_schedule_and_sensors_are_loaded(self, location: object) -> None:
        [repository] = location.get_repositories().values()  # type: ignore[attr-defined]
        schedule = repository.get_schedule("daily_interest_accrual_schedule")
        assert (schedule.job_name, schedule.cron_schedule, schedule.execution_timezone) == (
            "daily_interest_accrual",
            "0 0 * * *",
            "UTC",
        )
        sensor_names = {s.name for s in repository.get_sensors()}
        assert {
            "daily_interest_accrual_failure_closes_execution",
            "daily_interest_accrual_cancel_closes_execution",
        } <= sensor_names

"""The code location loads from workspace.yaml as the webserver loads it: job, partitions, schedule, sensors."""

from collections.abc import Iterator

import dagster as dg
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
    def test_accrual_job_is_partitioned_by_business_date(self, location: object) -> None:
        [repository] = location.get_repositories().values()  # type: ignore[attr-defined]
        job = repository.get_full_job("daily_interest_accrual")
        assert job is not None
        partition_set = repository.get_partition_set(
            next(p.name for p in repository.get_partition_sets() if p.job_name == "daily_interest_accrual")
        )
        assert partition_set.job_name == "daily_interest_accrual"

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

    def test_partitions_start_at_the_configured_date(self) -> None:
        from interest_pipeline.definitions import defs

        partitions = defs.get_job_def("daily_interest_accrual").partitions_def
        assert isinstance(partitions, dg.DailyPartitionsDefinition)
        assert partitions.get_first_partition_key() == "2020-01-01"
        assert partitions.timezone == "UTC"

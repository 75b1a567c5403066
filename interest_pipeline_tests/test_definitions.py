"""The code location loads from workspace.yaml as the webserver loads it: job, partitions, schedule, sensors."""

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

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

    def test_each_job_is_scheduled_by_a_sensor_over_its_config_rows(self, location: object) -> None:
        """The crons live in interest_batch_config, read at each tick: no cron is fixed in code."""
        [repository] = location.get_repositories().values()  # type: ignore[attr-defined]
        assert list(repository.get_schedules()) == []
        sensors = {s.name: s for s in repository.get_sensors()}
        assert {name: sorted(t.job_name for t in sensors[name].get_targets()) for name in sensors} == {
            "daily_interest_accrual_schedule": ["daily_interest_accrual"],
            "interest_posting_schedule": ["interest_posting"],
            "interest_posting_after_accrual": ["interest_posting"],
            "interest_month_report_after_posting": ["interest_month_report"],
            "interest_run_outcomes": [],
        }


class TestResourcesBoundOnce:
    def test_the_job_modules_bind_no_resource_and_definitions_binds_each_once(self) -> None:
        from interest_pipeline.accrual.job import build_accrual_job
        from interest_pipeline.definitions import DATABASE, LEDGER, NOTIFIER, defs
        from interest_pipeline.posting.job import build_posting_job

        for job in (build_accrual_job(), build_posting_job()):
            # a job module only requires resources; definitions.py provides them
            assert set(job.resource_defs) <= {"io_manager"}
            bound = defs.get_job_def(job.name)
            assert {"database", "ledger", "notifier"} <= set(bound.resource_defs)
        assert defs.resources == {"database": DATABASE, "ledger": LEDGER, "notifier": NOTIFIER}


def test_building_the_definitions_warns_nothing() -> None:
    """Every run and command builds the Definitions; a warning there reaches every terminal and log
    once per run (Dagster's beta warning for the sensors' owners did, 124 times in the quickstart)."""
    import subprocess
    import sys

    code = (
        "import warnings, dagster\n"
        "warnings.simplefilter('error', dagster.BetaWarning)\n"
        "warnings.simplefilter('error', UserWarning)\n"
        "import interest_pipeline.definitions as d\n"
        "d.build_definitions(d.load_settings()).get_job_def('interest_posting')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Warning" not in done.stderr

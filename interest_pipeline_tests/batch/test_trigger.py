"""The execution's trigger, read from the tags Dagster itself puts on the runs it launches."""

from collections.abc import Mapping

import dagster as dg
import pytest
from dagster._core.storage.dagster_run import DagsterRun

from interest_pipeline.definitions import defs
from interest_pipeline_tests.accrual.book import Book, accrue

# What the daemon tags a run with when a schedule, a sensor or a backfill launches it; a UI
# launch, the CLI and the API add none of these.
LAUNCHED_BY: dict[str, Mapping[str, str]] = {
    "SCHEDULE": DagsterRun.tags_for_schedule(defs.get_sensor_def("daily_interest_accrual_schedule")),
    "SENSOR": DagsterRun.tags_for_sensor(defs.get_sensor_def("interest_posting_after_accrual")),
    "BACKFILL": DagsterRun.tags_for_backfill_id("backfill-1"),
    "MANUAL": {},
}


class TestExecutionTrigger:
    @pytest.mark.parametrize("trigger", LAUNCHED_BY)
    def test_the_execution_row_names_what_launched_the_run(
        self, book: Book, instance: dg.DagsterInstance, trigger: str
    ) -> None:
        book.product("P", tiers=[("2020-01-01", "0", "3.65")])
        book.account(1, "P", {"2024-01-01": "1000"})

        run = accrue("2025-03-10", instance, tags=LAUNCHED_BY[trigger])

        assert run.dagster_run.tags.get("dagster/partition") == "2025-03-10"
        assert book.execution(run.run_id)["trigger"] == trigger

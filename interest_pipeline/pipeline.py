"""The catch-up a bank runs after an outage: for each business date in order, accrue, then post."""

from collections.abc import Callable
from datetime import date
from typing import Any

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableJob

from interest_pipeline.batch.tags import POSTING_FOLLOWS_TAG
from interest_pipeline.launch import LaunchedRun, business_dates, launch_partition_runs


class PipelineRunFailed(Exception):
    def __init__(self, failed: LaunchedRun, not_run: int) -> None:
        super().__init__(
            f"run {failed.run_id} for {failed.partition_key} {failed.status}: "
            f"{failed.error or 'see the run in the Dagster UI'}; {not_run} later run(s) not launched"
        )
        self.failed = failed


def run_pipeline(
    start: date,
    end: date,
    *,
    run_config: Callable[[str], dict[str, Any]] | None = None,
    on_finished: Callable[[LaunchedRun, str], None] | None = None,
) -> list[LaunchedRun]:
    """Accrual run then posting run for every date from `start` to `end`, as real Dagster runs.

    The posting of D needs D's accrual finished (spec 3, completeness), hence strictly in turn.
    `run_config(op_name)` gives each run's config; `on_finished(run, job_name)` hears of each run.
    Raises PipelineRunFailed at the first run that fails.
    """
    from interest_pipeline.accrual.job import reconstructable_accrual_job
    from interest_pipeline.posting.job import reconstructable_posting_job

    steps: tuple[tuple[ReconstructableJob, str, dict[str, str]], ...] = (
        # The tag tells the posting sensor that this caller posts the date itself.
        (dg.reconstructable(reconstructable_accrual_job), "plan_accrual", {POSTING_FOLLOWS_TAG: "cli-run"}),
        (dg.reconstructable(reconstructable_posting_job), "plan_posting", {}),
    )
    dates = list(business_dates(start, end))
    launched: list[LaunchedRun] = []
    for day in dates:
        for job, op, tags in steps:
            (outcome,) = launch_partition_runs(
                job, [day.isoformat()], run_config=run_config(op) if run_config else None, tags=tags
            )
            launched.append(outcome)
            if on_finished:
                on_finished(outcome, job.get_definition().name)
            if not outcome.success:
                raise PipelineRunFailed(outcome, 2 * len(dates) - len(launched))
    return launched

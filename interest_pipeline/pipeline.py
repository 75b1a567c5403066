"""The catch-up a bank runs after an outage: for each business date in order, accrue, then post."""

from collections.abc import Callable
from datetime import date
from typing import Any

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableJob

from interest_pipeline.batch.tags import POSTING_FOLLOWS_TAG
from interest_pipeline.launch import (
    LaunchedRun,
    business_dates,
    is_small_book,
    launch_partition_runs,
    launch_ranged_run,
)


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
    ranged: bool | None = None,
) -> list[LaunchedRun]:
    """Accrual then posting for every date from `start` to `end`, as real Dagster runs.

    The posting of D needs D's accrual finished (spec 3, completeness), hence strictly in turn.
    `ranged`: one ranged run over all the dates (interest_pipeline.ranged; each date still gets
    its own execution rows), else a run per date and job; None picks by book size
    (launch.is_small_book: ranged for small books).
    `run_config(op_name)` gives each run's config (op_name: the job's plan op); `on_finished(run,
    job_name)` hears of each date's run (for a ranged run: of each date, once the run ended).
    Raises PipelineRunFailed at the first run that fails.
    """
    if ranged is None:
        ranged = is_small_book()
    if ranged:
        return _run_ranged(start, end, run_config, on_finished)
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


def ranged_run_config(
    run_config: Callable[[str], dict[str, Any]] | None, job_types: tuple[str, ...]
) -> dict[str, Any]:
    """The ranged run's config from the per-job one: each plan op's config becomes the ranged op's
    `accrual` / `posting`, the loggers are taken as they are."""
    from interest_pipeline.batch.config import PLAN_OPS
    from interest_pipeline.ranged.ops import ACCRUAL, OP_NAME

    op_config: dict[str, Any] = {"job_types": list(job_types)}
    merged: dict[str, Any] = {}
    for job_type in job_types:
        op = PLAN_OPS[job_type]
        config = run_config(op) if run_config else {}
        merged.update({k: v for k, v in config.items() if k != "ops"})
        plan = config.get("ops", {}).get(op, {}).get("config")
        if plan:
            op_config["accrual" if job_type == ACCRUAL else "posting"] = plan
    return {**merged, "ops": {OP_NAME: {"config": op_config}}}


def run_ranged(
    start: date,
    end: date,
    job_types: tuple[str, ...],
    run_config: Callable[[str], dict[str, Any]] | None = None,
    on_finished: Callable[[LaunchedRun, str], None] | None = None,
) -> list[LaunchedRun]:
    """One ranged run of `job_types` per date over `start`..`end`; on_finished hears of each date's
    execution (job name = job type), then PipelineRunFailed if one failed."""
    from interest_pipeline.ranged.job import reconstructable_ranged_job

    launched = launch_ranged_run(
        dg.reconstructable(reconstructable_ranged_job),
        start,
        end,
        job_types,
        run_config=ranged_run_config(run_config, job_types),
    )
    for outcome in launched:
        if on_finished:
            on_finished(outcome, outcome.job_type or "")
    failed = [o for o in launched if not o.success]
    if failed:
        planned = len(job_types) * len(list(business_dates(start, end)))
        raise PipelineRunFailed(failed[0], planned - len(launched))
    return launched


def _run_ranged(
    start: date,
    end: date,
    run_config: Callable[[str], dict[str, Any]] | None,
    on_finished: Callable[[LaunchedRun, str], None] | None,
) -> list[LaunchedRun]:
    from interest_pipeline.ranged.ops import ACCRUAL, POSTING

    return run_ranged(start, end, (ACCRUAL, POSTING), run_config, on_finished)

"""The `interest_ranged_run` job: one run over a range of business dates (Dagster's
`dagster/asset_partition_range_start` / `_end` tags on the run), accrual then posting per date.

Its steps are one op, so it runs in the run's own process (in_process executor): what it saves is
the per-run and per-step fixed cost that dominates a small book's dates (ranged.ops).
"""

import dagster as dg

from interest_pipeline.batch.orchestration import (
    business_date_partitions,
    close_execution_on_failure,
    job_of_definitions,
)
from interest_pipeline.ranged.ops import run_dates
from interest_pipeline.settings import Settings, current_settings

JOB_NAME = "interest_ranged_run"


@dg.graph
def ranged_graph() -> None:
    run_dates()


def build_ranged_job(settings: Settings | None = None) -> dg.JobDefinition:
    """Built with the definitions, from the settings read then (the partitions of both jobs)."""
    settings = settings or current_settings()
    return ranged_graph.to_job(
        name=JOB_NAME,
        partitions_def=business_date_partitions(settings),
        executor_def=dg.in_process_executor,
        hooks={close_execution_on_failure},
        description="Accrues then posts each business date of a partition range in one run, each date "
        "with its own execution row, as its single-date runs would (for small books).",
    )


def reconstructable_ranged_job() -> dg.JobDefinition:
    """What `dg.reconstructable` points at: the job as interest_pipeline.definitions binds it."""
    return job_of_definitions(JOB_NAME)

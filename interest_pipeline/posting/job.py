"""The `interest_posting` job: one partition per business date P, the accrual job's partitions."""

import dagster as dg

from interest_pipeline.batch.orchestration import batch_job, job_of_definitions
from interest_pipeline.posting.ops import close_posting, plan_posting, post_chunk
from interest_pipeline.posting.sql import JOB_TYPE
from interest_pipeline.settings import Settings

JOB_NAME = JOB_TYPE


@dg.graph
def posting_graph() -> None:
    tasks = plan_posting()
    close_posting(tasks.map(post_chunk).collect())


def build_posting_job(
    executor_def: dg.ExecutorDefinition | None = None, settings: Settings | None = None
) -> dg.JobDefinition:
    """The job on a given executor (default: chunk_executor); tests and the benchmark pick others.
    Built with the definitions, from the settings read then (as accrual.job's)."""
    return batch_job(
        posting_graph,
        name=JOB_NAME,
        job_module="interest_pipeline.posting.job",
        description="Capitalizes the ACCRUED interest of the accounts due on business date P (spec §3).",
        executor_def=executor_def,
        settings=settings,
    )


def reconstructable_posting_job() -> dg.JobDefinition:
    """What `dg.reconstructable` points at, so step processes (and Celery workers) load the same
    job, with the resources definitions.py binds."""
    return job_of_definitions(JOB_NAME)

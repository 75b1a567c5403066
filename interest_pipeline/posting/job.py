"""The `interest_posting` job: one partition per business date P, the accrual job's partitions."""

import dagster as dg

from interest_pipeline.accrual.job import business_date_partitions
from interest_pipeline.batch.executor import chunk_executor
from interest_pipeline.batch.orchestration import close_execution_on_failure
from interest_pipeline.batch.tags import JOB_TYPE_TAG
from interest_pipeline.posting.ops import close_posting, plan_posting, post_chunk
from interest_pipeline.posting.sql import JOB_TYPE
from interest_pipeline.settings import Settings, current_settings

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
    settings = settings or current_settings()
    return posting_graph.to_job(
        name=JOB_NAME,
        partitions_def=business_date_partitions(settings),
        executor_def=executor_def or chunk_executor("interest_pipeline.posting.job", settings),
        hooks={close_execution_on_failure},
        tags={JOB_TYPE_TAG: JOB_NAME},
        description="Capitalizes the ACCRUED interest of the accounts due on business date P (spec §3).",
    )


def reconstructable_posting_job() -> dg.JobDefinition:
    """What `dg.reconstructable` points at, so step processes (and Celery workers) load the same
    job, with the resources definitions.py binds."""
    from interest_pipeline.definitions import defs  # definitions imports this module

    return defs.get_job_def(JOB_NAME)

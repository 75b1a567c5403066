"""The `daily_interest_accrual` job: one partition per business date D."""

import dagster as dg

from interest_pipeline.accrual.ops import accrue_chunk, close_accrual, plan_accrual
from interest_pipeline.accrual.sql import JOB_TYPE
from interest_pipeline.batch.orchestration import batch_job, job_of_definitions

# Both jobs' partitions; named here too, where the posting job and launch have always found them.
from interest_pipeline.batch.orchestration import business_date_partitions as business_date_partitions
from interest_pipeline.settings import Settings

JOB_NAME = JOB_TYPE


@dg.graph
def accrual_graph() -> None:
    chunks = plan_accrual()
    close_accrual(chunks.map(accrue_chunk).collect())


def build_accrual_job(
    executor_def: dg.ExecutorDefinition | None = None, settings: Settings | None = None
) -> dg.JobDefinition:
    """The job on a given executor (default: chunk_executor); the benchmark builds the others.

    Built when the definitions are (interest_pipeline.definitions), from the settings read then:
    its partitions and executor come from them, so no module-level job reads the environment.
    """
    return batch_job(
        accrual_graph,
        name=JOB_NAME,
        job_module="interest_pipeline.accrual.job",
        description="Accrues each eligible account's interest for the night after business date D (spec §2).",
        executor_def=executor_def,
        settings=settings,
    )


def reconstructable_accrual_job() -> dg.JobDefinition:
    """What `dg.reconstructable` points at, so step processes (and Celery workers) load the same
    job, with the resources definitions.py binds."""
    return job_of_definitions(JOB_NAME)

"""The `daily_interest_accrual` job: one partition per business date D."""

import dagster as dg

from interest_pipeline.accrual.ops import accrue_chunk, close_accrual, plan_accrual
from interest_pipeline.accrual.sql import JOB_TYPE
from interest_pipeline.batch.executor import chunk_executor
from interest_pipeline.batch.orchestration import close_execution_on_failure
from interest_pipeline.batch.tags import JOB_TYPE_TAG
from interest_pipeline.settings import Settings, current_settings

JOB_NAME = JOB_TYPE


def business_date_partitions(settings: Settings) -> dg.DailyPartitionsDefinition:
    """From INTEREST_PARTITIONS_START, one per day of the business timezone: both jobs' partitions."""
    return dg.DailyPartitionsDefinition(
        start_date=settings.partitions_start.isoformat(), timezone=settings.business_timezone
    )


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
    settings = settings or current_settings()
    return accrual_graph.to_job(
        name=JOB_NAME,
        partitions_def=business_date_partitions(settings),
        executor_def=executor_def or chunk_executor("interest_pipeline.accrual.job", settings),
        hooks={close_execution_on_failure},
        tags={JOB_TYPE_TAG: JOB_NAME},
        description="Accrues each eligible account's interest for the night after business date D (spec §2).",
    )


def reconstructable_accrual_job() -> dg.JobDefinition:
    """What `dg.reconstructable` points at, so step processes (and Celery workers) load the same
    job, with the resources definitions.py binds."""
    from interest_pipeline.definitions import defs  # definitions imports this module

    return defs.get_job_def(JOB_NAME)

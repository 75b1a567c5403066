"""Dagster objects of the accrual job, merged into interest_pipeline.definitions."""

import dagster as dg

from interest_pipeline.accrual.schedule import accrual_schedule
from interest_pipeline.settings import Settings


def accrual_definitions(job: dg.JobDefinition, settings: Settings) -> dg.Definitions:
    """The accrual job (accrual.job.build_accrual_job) and its schedule."""
    return dg.Definitions(jobs=[job], sensors=[accrual_schedule(job, settings)])

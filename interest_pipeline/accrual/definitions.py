"""Dagster objects of the accrual job, merged into interest_pipeline.definitions."""

import dagster as dg

from interest_pipeline.accrual.schedule import ACCRUAL_SCHEDULE
from interest_pipeline.batch.config_schedule import config_schedule_sensor
from interest_pipeline.settings import Settings


def accrual_definitions(job: dg.JobDefinition, settings: Settings) -> dg.Definitions:
    """The accrual job (accrual.job.build_accrual_job) and its schedule."""
    return dg.Definitions(jobs=[job], sensors=[config_schedule_sensor(ACCRUAL_SCHEDULE, job, settings)])

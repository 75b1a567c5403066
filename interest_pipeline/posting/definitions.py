"""Dagster objects of the posting job, merged into interest_pipeline.definitions."""

import dagster as dg

from interest_pipeline.batch.config_schedule import config_schedule_sensor
from interest_pipeline.posting.schedule import POSTING_SCHEDULE
from interest_pipeline.posting.sensor import posting_after_accrual_sensor
from interest_pipeline.settings import Settings


def posting_definitions(
    job: dg.JobDefinition, accrual_job: dg.JobDefinition, settings: Settings
) -> dg.Definitions:
    """The posting job, its schedule and the sensor that requests it after `accrual_job` succeeds."""
    return dg.Definitions(
        jobs=[job],
        sensors=[
            posting_after_accrual_sensor(accrual_job, job),
            config_schedule_sensor(POSTING_SCHEDULE, job, settings),
        ],
    )

"""Dagster objects of the accrual job, merged into interest_pipeline.definitions."""

import dagster as dg

from interest_pipeline.accrual.job import daily_interest_accrual
from interest_pipeline.accrual.schedule import daily_interest_accrual_schedule


def accrual_definitions() -> dg.Definitions:
    return dg.Definitions(
        jobs=[daily_interest_accrual],
        sensors=[daily_interest_accrual_schedule],
    )

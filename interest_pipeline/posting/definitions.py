"""Dagster objects of the posting job, merged into interest_pipeline.definitions."""

import dagster as dg

from interest_pipeline.posting.job import interest_posting
from interest_pipeline.posting.schedule import interest_posting_schedule
from interest_pipeline.posting.sensor import interest_posting_after_accrual


def posting_definitions() -> dg.Definitions:
    return dg.Definitions(
        jobs=[interest_posting],
        sensors=[
            interest_posting_after_accrual,
            interest_posting_schedule,
        ],
    )

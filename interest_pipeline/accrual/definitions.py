"""Dagster objects of the accrual job, merged into interest_pipeline.definitions."""

import dagster as dg


def accrual_definitions() -> dg.Definitions:
    return dg.Definitions()

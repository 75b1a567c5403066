"""Dagster objects of the posting job, merged into interest_pipeline.definitions."""

import dagster as dg


def posting_definitions() -> dg.Definitions:
    return dg.Definitions()

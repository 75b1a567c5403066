"""Dagster objects of the alerts, merged into interest_pipeline.definitions."""

import dagster as dg

from interest_pipeline.alerts.sensor import interest_run_outcomes


def alert_definitions() -> dg.Definitions:
    return dg.Definitions(
        sensors=[interest_run_outcomes],
    )

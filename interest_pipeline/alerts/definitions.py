"""Dagster objects of the alerts, merged into interest_pipeline.definitions."""

import dagster as dg

from interest_pipeline.alerts.notifier import notifier_resource
from interest_pipeline.alerts.sensor import interest_run_outcomes
from interest_pipeline.resources.database import database_resource


def alert_definitions() -> dg.Definitions:
    return dg.Definitions(
        sensors=[interest_run_outcomes],
        resources={"database": database_resource, "notifier": notifier_resource},
    )

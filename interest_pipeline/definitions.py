"""The single Dagster entry point: every job, schedule, sensor and resource of the project."""

import dagster as dg

from interest_pipeline.accrual.definitions import accrual_definitions
from interest_pipeline.alerts.definitions import alert_definitions
from interest_pipeline.checks.dagster_checks import checks_definitions
from interest_pipeline.posting.definitions import posting_definitions

defs = dg.Definitions.merge(
    accrual_definitions(), posting_definitions(), checks_definitions(), alert_definitions()
)

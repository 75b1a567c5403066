"""The single Dagster entry point: every job, schedule, sensor and asset check, and the resources,
bound here once for all of them."""

import dagster as dg

from interest_pipeline.accrual.definitions import accrual_definitions
from interest_pipeline.alerts.definitions import alert_definitions
from interest_pipeline.alerts.notifier import SettingsNotifierResource
from interest_pipeline.checks.dagster_checks import checks_definitions
from interest_pipeline.posting.definitions import posting_definitions
from interest_pipeline.resources.database import DatabaseResource
from interest_pipeline.resources.ledger import PostgresLedgerResource

DATABASE = DatabaseResource()
LEDGER = PostgresLedgerResource()
NOTIFIER = SettingsNotifierResource()
RESOURCES = {"database": DATABASE, "ledger": LEDGER, "notifier": NOTIFIER}

defs = dg.Definitions.merge(
    accrual_definitions(),
    posting_definitions(),
    checks_definitions(),
    alert_definitions(),
    dg.Definitions(resources=RESOURCES),
)


def bound(job: dg.JobDefinition) -> dg.JobDefinition:
    """`job` with the project's resources, as the code location serves it: for a job built on
    another executor (benchmarks, run-config checks). The project's own jobs: `defs.get_job_def`."""
    return dg.Definitions(jobs=[job], resources=RESOURCES).get_job_def(job.name)

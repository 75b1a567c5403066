"""The single Dagster entry point: every job, schedule, sensor and asset check, and the resources,
bound here once for all of them.

Building `defs` is when a Dagster process (code server, step process, Celery worker) reads the
settings: load_settings() runs here once, and the jobs' partitions, executors and schedules are
made from that instance. No module this one imports reads the environment at import time.
"""

import warnings

import dagster as dg

from interest_pipeline.accrual.definitions import accrual_definitions
from interest_pipeline.accrual.job import build_accrual_job
from interest_pipeline.alerts.definitions import alert_definitions
from interest_pipeline.alerts.notifier import SettingsNotifierResource
from interest_pipeline.checks.dagster_checks import checks_definitions
from interest_pipeline.posting.definitions import posting_definitions
from interest_pipeline.posting.job import build_posting_job
from interest_pipeline.ranged.job import build_ranged_job
from interest_pipeline.reporting.month_job import month_report_definitions
from interest_pipeline.resources.database import DatabaseResource
from interest_pipeline.resources.ledger import PostgresLedgerResource
from interest_pipeline.settings import Settings, load_settings

# Dagster's own: binding resources rebuilds every sensor with its (empty) owners, which trips the
# beta warning of that parameter. It said so once per run in every terminal and log; nothing here
# sets owners.
warnings.filterwarnings(
    "ignore", message="Parameter `owners` of initializer `SensorDefinition.__init__`", category=dg.BetaWarning
)

DATABASE = DatabaseResource()
LEDGER = PostgresLedgerResource()
NOTIFIER = SettingsNotifierResource()
RESOURCES = {"database": DATABASE, "ledger": LEDGER, "notifier": NOTIFIER}


def build_definitions(settings: Settings) -> dg.Definitions:
    """Every Dagster object of the project, made from `settings`."""
    accrual_job = build_accrual_job(settings=settings)
    posting_job = build_posting_job(settings=settings)
    ranged_job = build_ranged_job(settings)
    return dg.Definitions.merge(
        accrual_definitions(accrual_job, settings),
        posting_definitions(posting_job, accrual_job, settings),
        month_report_definitions(posting_job, ranged_job, settings),
        checks_definitions(),
        alert_definitions(),
        dg.Definitions(jobs=[ranged_job]),
        dg.Definitions(resources=RESOURCES),
    )


defs = build_definitions(load_settings())


def bound(job: dg.JobDefinition) -> dg.JobDefinition:
    """`job` with the project's resources, as the code location serves it: for a job built on
    another executor (benchmarks, run-config checks). The project's own jobs: `defs.get_job_def`."""
    return dg.Definitions(jobs=[job], resources=RESOURCES).get_job_def(job.name)

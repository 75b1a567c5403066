"""The `interest-pipeline` command line."""

import logging
import warnings

import click

from interest_pipeline.cli.api import api
from interest_pipeline.cli.data import generate, load
from interest_pipeline.cli.db import db
from interest_pipeline.cli.errors import OneLineErrorGroup
from interest_pipeline.cli.explain import explain
from interest_pipeline.cli.jobs import register_job_commands
from interest_pipeline.cli.posting import register_posting_commands
from interest_pipeline.cli.quickstart import quickstart
from interest_pipeline.cli.report import report
from interest_pipeline.cli.summary import summary
from interest_pipeline.cli.ui import ui
from interest_pipeline.cli.worker import worker
from interest_pipeline.settings import SettingsError, load_settings

# platformdirs warns on every start on machines without XDG_RUNTIME_DIR (pgserver's lock path).
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


@click.group(cls=OneLineErrorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log SQL timings and Dagster events.")
@click.option("--debug", is_flag=True, help="Show the traceback of an error instead of one line.")
def main(verbose: bool, debug: bool) -> None:
    """Accrue and post interest for deposit accounts, exactly, on Dagster and PostgreSQL.

    The database is INTEREST_DATABASE_URL, or an embedded PostgreSQL under
    INTEREST_PIPELINE_HOME (default: .interest-pipeline/ in the project) when it is unset.
    """
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(message)s")
    # Dagster's own logger prints every step event at DEBUG; the commands print their own summaries.
    logging.getLogger("dagster").setLevel(level)
    # At the edge: the settings are read here, once for the command, so a misspelt one (executor,
    # broker, timezone, ...) fails before any job is loaded or launched, as one line naming the variable.
    try:
        load_settings()
    except SettingsError as error:
        raise click.UsageError(str(error)) from error


main.add_command(db)
main.add_command(generate)
main.add_command(load)
main.add_command(summary)
main.add_command(ui)
register_job_commands(main)
register_posting_commands(main)
main.add_command(quickstart)
main.add_command(api)
main.add_command(report)
main.add_command(explain)
main.add_command(worker)

"""`interest-pipeline worker`: a Celery worker that executes the chunk steps of runs on the celery executor.

Start any number, on any hosts that reach the broker (INTEREST_CELERY_BROKER), the application
database (INTEREST_DATABASE_URL) and Dagster's storage (INTEREST_DAGSTER_DATABASE_URL, or the
application database's `_dagster` neighbour). A step task carries the run's code pointer and
instance ref; the worker loads this project's definitions from its own install to run it.
"""

import os

import click

from interest_pipeline.settings import (
    EXECUTOR_ENV,
    celery_settings,
    current_settings,
    database_url,
    ensure_dagster_home,
)


@click.command()
@click.option(
    "--concurrency",
    "-c",
    type=click.IntRange(min=1),
    default=None,
    help="Chunk steps this worker runs at once, one process each (default: the host's cores).",
)
@click.option(
    "--queue",
    "-Q",
    default=None,
    help="Celery queue to take steps from (default: INTEREST_CELERY_QUEUE, else 'dagster').",
)
@click.option(
    "--name",
    "-n",
    default=None,
    help="Celery node name, named in each step's 'Celery worker' event"
    " (default: interest-pipeline-<pid>@<host>).",
)
@click.option("--loglevel", "-l", default="INFO", show_default=True, help="Celery's log level.")
def worker(concurrency: int | None, queue: str | None, name: str | None, loglevel: str) -> None:
    """Run chunk steps of the celery executor's runs, taken from the broker's queue."""
    settings = current_settings()  # read (and checked) as the command started: cli.main
    celery = celery_settings(settings)
    # The job a step task loads must be the one its run was built with: the celery executor's.
    # Written for the definitions imported below and the pool processes, which read their
    # settings from the environment as every Dagster process does.
    os.environ[EXECUTOR_ENV] = "celery"
    # Resolved once here, so every pool process finds the same databases in its environment:
    # the step's instance ref reads INTEREST_DAGSTER_PG_URL, the ops INTEREST_DATABASE_URL.
    database_url(settings)
    ensure_dagster_home(settings)
    # Imported before the pool forks, so each pool process starts with the jobs loaded.
    import interest_pipeline.batch.step_imports
    import interest_pipeline.definitions  # noqa: F401
    from interest_pipeline.batch.executor import celery_worker_app

    argv = [
        "worker",
        f"--loglevel={loglevel}",
        "--queues",
        queue or celery.queue,
        "--hostname",
        name or f"interest-pipeline-{os.getpid()}@%h",
        "--prefetch-multiplier=1",
        # Steps are long transactions; gossip and mingle only slow a worker's start here.
        "--without-gossip",
        "--without-mingle",
    ]
    if concurrency is not None:
        argv.append(f"--concurrency={concurrency}")
    celery_worker_app(celery).worker_main(argv)

"""The executor both jobs run their chunk steps on, chosen by INTEREST_EXECUTOR (of the settings
the jobs are built with).

- `forkserver` (default): step processes forked from a warm server on the run's machine.
  Measured on 2 cores with 1M accounts (docs/benchmarks.md): each step process forked from a
  server that had imported only the job still spent ~0.55 s of CPU importing what
  `DagsterInstance.from_ref` needs (dagster-postgres, psycopg2, alembic, rich, ...) and re-running
  the parent's `__main__` script, on the same two cores as PostgreSQL. Preloading those once per
  run in the forkserver is what lets two chunks' SQL keep both cores busy.
- `in_process`: every step in the run's own process, one after another (debugging, tiny books).
- `celery`: each chunk step is a task on a Celery broker, executed by any `interest-pipeline
  worker` on any host that reaches the broker, the application database and Dagster's storage.

Whatever the executor, the config row's parallel_threads bounds the chunks of one run running
at once (batch.lifecycle.acquire_slot holds one of that many advisory locks per chunk).
"""

import warnings
from typing import Any

import dagster as dg

from interest_pipeline.batch import forkserver_main
from interest_pipeline.settings import CelerySettings, Settings, celery_settings, current_settings

# The run's main script is imported once by the forkserver (batch.forkserver_main: naming
# `__main__` alone does not do it on CPython 3.11), so forked children find it in place instead of
# each re-running it; `__main__` stays named for the Pythons where it does.
_ALWAYS_PRELOADED = (
    "__main__",
    "interest_pipeline.batch.forkserver_main",
    "interest_pipeline.batch.step_imports",
)
DEFINITIONS_MODULE = "interest_pipeline.definitions"

# Celery app settings for chunk steps. A chunk is acknowledged only once it has run (acks_late),
# and one a worker dies in is handed back to the broker (reject_on_worker_lost), so another
# worker runs it; its first transaction never committed, so nothing is written twice. Prefetching
# one task per process keeps queued chunks free for idle workers instead of reserved by busy ones.
CELERY_APP_SETTINGS: dict[str, Any] = {
    "task_acks_late": True,
    "task_reject_on_worker_lost": True,
    "worker_prefetch_multiplier": 1,
}


def chunk_executor(job_module: str, settings: Settings | None = None) -> dg.ExecutorDefinition:
    """The executor the settings' INTEREST_EXECUTOR names; `job_module` is what a forkserver preloads."""
    settings = settings or current_settings()
    if settings.executor == "in_process":
        return dg.in_process_executor
    if settings.executor == "celery":
        return celery_chunk_executor(celery_settings(settings))
    return forkserver_executor(job_module, settings.step_processes)


def forkserver_executor(job_module: str, step_processes: int) -> dg.ExecutorDefinition:
    """Multiprocess executor, forkserver start method with `job_module` and step imports preloaded.

    max_concurrent caps step processes; the config row's parallel_threads bounds the chunks that
    actually run at once (batch.lifecycle.acquire_slot), whichever executor runs them, so a
    parallel_threads above it needs INTEREST_STEP_PROCESSES raised too (settings).

    Built in the run's process (it loads the job before its first step starts the forkserver), so
    the main script announced here is the one its step processes would re-run.
    """
    forkserver_main.announce()
    return dg.multiprocess_executor.configured(
        {
            "max_concurrent": step_processes,
            # definitions last: the jobs are built there (from the settings the forkserver reads
            # once, from the run's environment), and a step's reconstructable job looks them up there.
            "start_method": {
                "forkserver": {"preload_modules": [*_ALWAYS_PRELOADED, job_module, DEFINITIONS_MODULE]}
            },
        },
        name="forkserver_multiprocess",
    )


def celery_executor_config(celery: CelerySettings) -> dict[str, Any]:
    """dagster-celery's executor config from the settings; `interest-pipeline worker` uses the same."""
    return {
        "broker": celery.broker,
        "backend": celery.backend,
        "config_source": {**CELERY_APP_SETTINGS, "task_default_queue": celery.queue},
    }


def celery_chunk_executor(celery: CelerySettings) -> dg.ExecutorDefinition:
    from dagster_celery import celery_executor

    # dagster-celery registers its step task on the run's app again for every step it submits;
    # Celery 5.7 warns each time (same task, same app), which would bury a run's own output.
    warnings.filterwarnings("ignore", message="Task name 'execute_plan' is already registered")

    return celery_executor.configured(celery_executor_config(celery), name="celery")


def celery_worker_app(celery: CelerySettings) -> Any:
    """The Celery app a worker runs: dagster-celery's, with its step task, on the executor's settings."""
    from dagster._core.execution.retries import RetryMode
    from dagster_celery.executor import CeleryExecutor
    from dagster_celery.make_app import make_app
    from dagster_celery.tasks import create_task

    config = celery_executor_config(celery)
    executor = CeleryExecutor(  # type: ignore[no-untyped-call]
        retries=RetryMode(RetryMode.DISABLED),
        broker=config["broker"],
        backend=config["backend"],
        config_source=config["config_source"],
    )
    app = make_app(executor.app_args())  # type: ignore[no-untyped-call]
    create_task(app)  # type: ignore[no-untyped-call]
    return app

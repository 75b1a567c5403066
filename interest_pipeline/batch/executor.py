"""The executor both jobs run their chunk steps on: processes forked from a warm server.

Measured on 2 cores with 1M accounts (docs/benchmarks.md): each step process forked from a
server that had imported only the job still spent ~0.55 s of CPU importing what
`DagsterInstance.from_ref` needs (dagster-postgres, psycopg2, alembic, rich, ...) and re-running
the parent's `__main__` script, on the same two cores as PostgreSQL. Preloading those once per
run in the forkserver is what lets two chunks' SQL keep both cores busy.
"""

import dagster as dg

from interest_pipeline.settings import load_settings

# `__main__` is imported once by the forkserver (Python skips a module run with -m, and a
# script whose body is guarded by `if __name__ == "__main__"` does nothing there), so forked
# children find it in place instead of each re-running the parent's script.
_ALWAYS_PRELOADED = ("__main__", "interest_pipeline.batch.step_imports")


def chunk_executor(job_module: str) -> dg.ExecutorDefinition:
    """Multiprocess executor, forkserver start method with `job_module` and step imports preloaded.

    max_concurrent caps step processes; the config row's parallel_threads bounds the chunks that
    actually run at once (batch.lifecycle.acquire_slot), whichever executor runs them, so a
    parallel_threads above it needs INTEREST_STEP_PROCESSES raised too (settings).
    """
    return dg.multiprocess_executor.configured(
        {
            "max_concurrent": load_settings().step_processes,
            "start_method": {"forkserver": {"preload_modules": [*_ALWAYS_PRELOADED, job_module]}},
        },
        name="forkserver_multiprocess",
    )

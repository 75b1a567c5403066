"""The run process's `__main__`, imported once by the step forkserver instead of by every step.

A step process forked from the forkserver is sent the run process's main script path and re-runs
that script as `__mp_main__` before its op starts, unless the server already holds it. Naming
`__main__` in the server's preload list is meant to give it that; on CPython 3.11 it never does:
the server is handed a key (`main_path`) that `multiprocessing.spawn.get_preparation_data` stopped
writing (`init_main_from_path`) in 3.4. Fixed upstream in 3.13 and 3.14 (gh-126631), not in 3.11.

Measured on 2 cores (docs/benchmarks.md, 2026-12-06, 16:30-17:10 UTC): with a benchmark script as the
run's main, every step process spent 0.35 s idle (0.6-0.85 s while PostgreSQL had both cores)
re-importing what that script imports; `dagster api execute_run`, the runs the daemon launches,
costs 0.06 s a step. So the process that builds the executor (the run's own: it loads the job
before its first step) `announce`s its main path in the environment the server inherits, and the
server imports this module among its preloads, which runs the script there once, as CPython does
in the children (a script guarded by `if __name__ == "__main__"` does nothing but import).
"""

import json
import os
import sys
import warnings
from multiprocessing import process, spawn

MAIN_PATH_ENV = "INTEREST_FORKSERVER_MAIN_PATH"
# The announcing process's sys.path (JSON), which the children get from multiprocessing.spawn and
# the server on 3.11 never applies (it is handed `sys_path` and ignores it, the same bug): without
# it a script importing a module beside it (the benchmarks import bench_support) failed to import
# in the server, and every step re-ran it again.
SYS_PATH_ENV = "INTEREST_FORKSERVER_SYS_PATH"


def main_path() -> str | None:
    """The path a child of this process re-runs its main script from (multiprocessing.spawn's
    rule), or None: a main run by module name (-m), or none from a file (-c, a REPL)."""
    main = sys.modules.get("__main__")
    if main is None or getattr(getattr(main, "__spec__", None), "name", None) is not None:
        return None
    path: str | None = getattr(main, "__file__", None)
    if path is None:
        return None
    original_dir = getattr(process, "ORIGINAL_DIR", None)  # the cwd at startup (not in the stubs)
    if not os.path.isabs(path) and original_dir is not None:
        path = os.path.join(original_dir, path)
    return os.path.normpath(path)


def announce() -> None:
    """Tell a forkserver this process starts later which script its children would re-run."""
    path = main_path()
    if path is None:
        os.environ.pop(MAIN_PATH_ENV, None)
        os.environ.pop(SYS_PATH_ENV, None)
    else:
        os.environ[MAIN_PATH_ENV] = path
        os.environ[SYS_PATH_ENV] = json.dumps(sys.path)


def in_forkserver() -> bool:
    """This process is a multiprocessing forkserver: started with `-c "from
    multiprocessing.forkserver import main; ..."`, so its own main is neither a file nor a module."""
    main = sys.modules.get("__main__")
    return (
        sys.argv[:1] == ["-c"]
        and "multiprocessing.forkserver" in sys.modules
        and main is not None
        and getattr(main, "__file__", None) is None
        and getattr(main, "__spec__", None) is None
    )


def preload() -> None:
    """In the forkserver, run the announced script as `__mp_main__`, as multiprocessing.spawn
    would in each child; anywhere else (a run process, a Celery worker, a test), nothing."""
    path = os.environ.get(MAIN_PATH_ENV)
    if path is None or not in_forkserver() or not os.path.isfile(path):
        return
    parent_path = os.environ.get(SYS_PATH_ENV)
    if parent_path is not None:
        # as spawn.prepare does in each child, before it imports the main script
        sys.path = json.loads(parent_path)
    current = process.current_process()
    current._inheriting = True  # type: ignore[attr-defined]  # as forkserver.main sets it
    try:
        spawn.import_main_path(path)
    except Exception as error:  # the script's own error: each step meets it as it did before
        warnings.warn(f"forkserver: {path} not preloaded, each step runs it: {error!r}", stacklevel=1)
    finally:
        del current._inheriting  # type: ignore[attr-defined]


preload()

"""The chunk steps' executor: forkserver with the right modules preloaded, sized from settings."""

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from interest_pipeline import settings
from interest_pipeline.batch.executor import DEFINITIONS_MODULE, chunk_executor
from interest_pipeline.definitions import defs
from interest_pipeline.settings import package_path, sqlalchemy_url
from interest_pipeline_tests.support.database import fresh_database

# What a forked step process does before its op runs: load the instance from its ref.
_STEP_START = """
import json, sys
import dagster._core.executor.multiprocess, interest_pipeline.accrual.job, interest_pipeline.posting.job
import interest_pipeline.batch.step_imports
from dagster._core.instance import DagsterInstance
from dagster._core.instance.ref import InstanceRef
ref = InstanceRef.from_dir(sys.argv[1])
before = set(sys.modules)
with DagsterInstance.from_ref(ref) as instance:
    instance.get_runs(limit=1)
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def _config(job_module: str) -> dict[str, object]:
    resolved = chunk_executor(job_module).apply_config_mapping({})
    assert resolved.success
    return resolved.value["config"]  # type: ignore[no-any-return,index]


def _python(*args: str, env: dict[str, str] | None = None) -> "subprocess.CompletedProcess[str]":
    """This interpreter run on `args` in a process of its own; it must succeed."""
    done = subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done


class TestChunkExecutor:
    @pytest.mark.parametrize("job_name", ["daily_interest_accrual", "interest_posting"])
    def test_each_job_forks_its_steps_from_a_server_that_preloaded_the_job(self, job_name: str) -> None:
        """The preloaded modules import, the job's own and the definitions that build the job among
        them: a step finds its job in place.

        Fails when a job module moves or is renamed without its chunk_executor(...) argument.
        """
        job = defs.get_job_def(job_name)
        resolved = job.executor_def.apply_config_mapping({})
        assert resolved.success
        [(method, options)] = resolved.value["config"]["start_method"].items()  # type: ignore[index]
        assert method == "forkserver"
        preloaded = [importlib.import_module(m) for m in options["preload_modules"] if m != "__main__"]
        # the job's module (its JOB_NAME), then the definitions that build the job, as steps look it up
        assert any(getattr(module, "JOB_NAME", None) == job_name for module in preloaded), options
        assert preloaded[-1].__name__ == DEFINITIONS_MODULE, options
        assert preloaded[-1].defs.get_job_def(job_name).name == job_name

    def test_runs_as_many_step_processes_as_the_settings_say(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(settings.STEP_PROCESSES_ENV, "5")
        assert _config("interest_pipeline.accrual.job")["max_concurrent"] == 5


class TestStepImports:
    def test_a_step_process_imports_nothing_more_to_load_the_instance(self, tmp_path: Path) -> None:
        """Fails when a Dagster upgrade moves what from_ref imports: extend STEP_MODULES."""
        (tmp_path / "dagster.yaml").write_text(package_path("dagster.yaml").read_text())
        with fresh_database(migrated=False, prefix="ip_test_dagster") as url:
            env = {
                **os.environ,
                settings.DAGSTER_PG_URL_ENV: sqlalchemy_url(url, "psycopg2").render_as_string(
                    hide_password=False
                ),
            }
            # the first creates Dagster's tables (as the run's first process would), the second is a step
            for _ in range(2):
                done = _python("-c", _STEP_START, str(tmp_path), env=env)
        assert json.loads(done.stdout.splitlines()[-1]) == []


# A run's main script: records every process that runs its body, then forks three steps from a
# forkserver preloaded as the chunk executor preloads it.
_RUN_MAIN = """
import multiprocessing, os, sys

with open(sys.argv[1] if __name__ == "__main__" else os.environ["RUNS_FILE"], "a") as f:
    f.write(f"{os.getpid()} {__name__}\\n")


def step(steps_file):
    with open(steps_file, "a") as f:
        f.write(f"{os.getpid()}\\n")


if __name__ == "__main__":
    os.environ["RUNS_FILE"] = sys.argv[1]
    from interest_pipeline.batch.executor import forkserver_executor

    resolved = forkserver_executor("interest_pipeline.accrual.job", 2).apply_config_mapping({})
    preload = resolved.value["config"]["start_method"]["forkserver"]["preload_modules"]
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["dagster._core.executor.multiprocess", *preload])
    for _ in range(3):
        child = context.Process(target=step, args=(sys.argv[2],))
        child.start()
        child.join()
        assert child.exitcode == 0
"""


class TestForkserverMain:
    def test_the_run_script_is_run_once_by_the_forkserver_not_by_each_step(self, tmp_path: Path) -> None:
        """CPython 3.11 ignores `__main__` in a forkserver's preload list: each step process re-ran
        the run's script (0.35-0.85 s a step with a benchmark's imports). Fails without
        batch.forkserver_main: three `__mp_main__` runs, one per step, none in the server."""
        script, runs, steps = tmp_path / "run_main.py", tmp_path / "runs.txt", tmp_path / "steps.txt"
        script.write_text(_RUN_MAIN)
        env = {k: v for k, v in os.environ.items() if k != "INTEREST_FORKSERVER_MAIN_PATH"}
        _python(str(script), str(runs), str(steps), env=env)
        step_pids = steps.read_text().split()
        ran = [line.split() for line in runs.read_text().splitlines()]
        assert [name for _, name in ran] == ["__main__", "__mp_main__"]
        [(parent, _), (server, _)] = ran
        assert len(set(step_pids)) == 3
        assert server not in step_pids and parent not in step_pids

    def test_a_script_importing_a_module_beside_it_is_preloaded_too(self, tmp_path: Path) -> None:
        """The benchmarks import bench_support from their own directory, which only the run process
        had on sys.path: the server failed to import them and every step re-ran the script. Fails
        without the announced sys.path: a warning in the server and three `__mp_main__` runs."""
        script, runs, steps = tmp_path / "run_main.py", tmp_path / "runs.txt", tmp_path / "steps.txt"
        (tmp_path / "run_helper.py").write_text("HELPED = True\n")
        script.write_text("import run_helper\n" + _RUN_MAIN)
        env = {k: v for k, v in os.environ.items() if not k.startswith("INTEREST_FORKSERVER_")}
        done = _python(str(script), str(runs), str(steps), env=env)
        assert [line.split()[1] for line in runs.read_text().splitlines()] == ["__main__", "__mp_main__"]
        assert "not preloaded" not in done.stderr

    def test_a_process_without_a_main_script_announces_none(self) -> None:
        """`python -c` (the forkserver's own kind of main) and `-m` have no script to re-run: the
        variable is removed, so a forkserver started from such a process runs nothing."""
        code = (
            "import os; os.environ['INTEREST_FORKSERVER_MAIN_PATH'] = '/elsewhere.py';"
            "os.environ['INTEREST_FORKSERVER_SYS_PATH'] = '[]';"
            "from interest_pipeline.batch import forkserver_main as m; m.announce();"
            "print(m.main_path(), os.environ.get(m.MAIN_PATH_ENV), os.environ.get(m.SYS_PATH_ENV))"
        )
        assert _python("-c", code).stdout.split() == ["None", "None", "None"]


def test_a_script_that_fails_to_import_leaves_the_forkserver_as_it_was(tmp_path: Path) -> None:
    """A run script that raises when imported by name is not preloaded: the server starts anyway
    (without the module's guard it would have died), and each step meets the error as before."""
    script = tmp_path / "failing_main.py"
    script.write_text("raise RuntimeError('not as __mp_main__')\n")
    code = (
        "import os, sys; sys.argv[:] = ['-c'];"
        f"os.environ['INTEREST_FORKSERVER_MAIN_PATH'] = {str(script)!r};"
        "import multiprocessing.forkserver;"
        "from interest_pipeline.batch import forkserver_main as m;"
        "print('loaded', sys.modules['__main__'].__dict__.get('__file__'))"
    )
    done = _python("-c", code)
    assert done.stdout.split() == ["loaded", "None"]  # the server's own main, untouched
    assert "UserWarning: forkserver:" in done.stderr and "not as __mp_main__" in done.stderr


def test_the_forkserver_preloads_leave_pandas_to_the_month_report() -> None:
    """pandas and numpy were 0.54 s of the step forkserver's 2.1 s of imports, in every run, for a
    report no chunk makes: they load when a month report is built (reporting/month.py)."""
    start: Any = _config("interest_pipeline.posting.job")["start_method"]
    preload = start["forkserver"]["preload_modules"]
    code = (
        f"import sys; [__import__(m) for m in {preload!r} if m != '__main__'];"
        "print(sorted({'pandas', 'numpy'} & set(sys.modules)))"
    )
    assert _python("-c", code).stdout.split() == ["[]"]

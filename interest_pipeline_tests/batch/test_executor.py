"""The chunk steps' executor: forkserver with the right modules preloaded, sized from settings."""

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

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
                done = subprocess.run(
                    [sys.executable, "-c", _STEP_START, str(tmp_path)],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=120,
                    check=False,
                )
                assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout.splitlines()[-1]) == []

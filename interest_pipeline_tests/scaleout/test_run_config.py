"""Each executor's run config in docs/scaling.md is valid (`dg.validate_run_config`), the ones we
configure are exactly what `chunk_executor` builds, and INTEREST_EXECUTOR picks among them.

The Helm values there are parsed and checked against this project (module, variables, run
queue); the chart's own schema is not available here (see docs/scaling.md).
"""

import re
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml
from click.testing import CliRunner
from dagster_celery import celery_executor
from dagster_celery_k8s import celery_k8s_job_executor
from dagster_k8s import k8s_job_executor

from interest_pipeline import settings
from interest_pipeline.accrual.job import build_accrual_job
from interest_pipeline.batch.executor import CELERY_APP_SETTINGS, chunk_executor
from interest_pipeline.cli import main
from interest_pipeline.definitions import bound
from interest_pipeline.posting.job import build_posting_job

DOCS = Path(__file__).resolve().parents[2] / "docs" / "scaling.md"
DOCKER_INSTANCE = Path(__file__).resolve().parents[2] / "docker" / "dagster.yaml"
BLOCK = re.compile(r"<!-- (run-config|helm-values): (\S+) -->\n```yaml\n(.*?)```", re.S)
UNCONFIGURED = {
    "forkserver": dg.multiprocess_executor,
    "in_process": dg.in_process_executor,
    "celery": celery_executor,
    "k8s_job": k8s_job_executor,
    "celery_k8s_job": celery_k8s_job_executor,
}


def blocks(kind: str) -> dict[str, Any]:
    found = {name: yaml.safe_load(body) for k, name, body in BLOCK.findall(DOCS.read_text()) if k == kind}
    assert found, f"no {kind} blocks in {DOCS}"
    return found


def configured(executor: dg.ExecutorDefinition) -> dict[str, Any]:
    """What a pre-configured executor definition resolves to, as run config."""
    resolved = executor.apply_config_mapping({})
    assert resolved.success, resolved.errors
    return resolved.value["config"]  # type: ignore[no-any-return,index]


def resolve(name: str, executor_config: dict[str, Any]) -> dict[str, Any]:
    validated = dg.validate_run_config(
        bound(build_accrual_job(UNCONFIGURED[name])), {"execution": {"config": executor_config}}
    )
    return validated["execution"][UNCONFIGURED[name].name]  # type: ignore[no-any-return]


def contains(resolved: object, documented: object) -> bool:
    """Every documented key is in the resolved config with the same value (defaults may be added)."""
    if isinstance(documented, dict):
        return isinstance(resolved, dict) and all(
            k in resolved and contains(resolved[k], v) for k, v in documented.items()
        )
    return resolved == documented


@pytest.fixture
def default_settings(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv(settings.STEP_PROCESSES_ENV, "3")
    for name in (settings.CELERY_BROKER_ENV, settings.CELERY_BACKEND_ENV, settings.CELERY_QUEUE_ENV):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


class TestDocumentedRunConfig:
    def test_every_executor_has_a_block(self) -> None:
        assert set(blocks("run-config")) == set(UNCONFIGURED)

    @pytest.mark.parametrize("name", sorted(UNCONFIGURED))
    def test_the_block_is_a_valid_run_config_of_the_job_on_that_executor(self, name: str) -> None:
        job = bound(build_accrual_job(UNCONFIGURED[name]))
        block = blocks("run-config")[name]
        result = dg.validate_run_config(job, block)
        # resolved under the executor's name, with its defaults filled in and every documented key kept
        [(key, resolved)] = result["execution"].items()
        assert key == UNCONFIGURED[name].name
        documented = block["execution"]["config"]
        assert contains(resolved, documented)
        assert (
            result["ops"]["plan_accrual"]["config"]["batch_size"]
            == block["ops"]["plan_accrual"]["config"]["batch_size"]
        )

    @pytest.mark.parametrize("name", sorted(UNCONFIGURED))
    def test_a_wrong_key_in_the_block_is_refused(self, name: str) -> None:
        """The validation above can fail: a misspelt executor key is an error on every executor."""
        config = blocks("run-config")[name]
        config["execution"]["config"]["max_concurent"] = 2
        with pytest.raises(dg.DagsterInvalidConfigError, match="max_concurent"):
            dg.validate_run_config(bound(build_accrual_job(UNCONFIGURED[name])), config)

    @pytest.mark.parametrize("name", ["forkserver", "in_process", "celery"])
    def test_the_block_is_what_chunk_executor_configures(
        self, name: str, default_settings: pytest.MonkeyPatch
    ) -> None:
        default_settings.setenv(settings.EXECUTOR_ENV, name)
        executor = chunk_executor("interest_pipeline.accrual.job")
        documented = blocks("run-config")[name]["execution"]["config"]
        if name == "in_process":
            assert executor is dg.in_process_executor and documented == {}
        else:  # both with the executor's defaults filled in
            assert configured(executor) == resolve(name, documented)

    def test_celery_tasks_are_acknowledged_late_and_prefetched_one_at_a_time(self) -> None:
        assert CELERY_APP_SETTINGS == {
            "task_acks_late": True,
            "task_reject_on_worker_lost": True,
            "worker_prefetch_multiplier": 1,
        }


class TestExecutorSetting:
    @pytest.mark.parametrize(
        ("choice", "executor_name"),
        [("forkserver", "forkserver_multiprocess"), ("in_process", "in_process"), ("celery", "celery")],
    )
    def test_both_jobs_take_the_executor_the_setting_names(
        self, choice: str, executor_name: str, default_settings: pytest.MonkeyPatch
    ) -> None:
        default_settings.setenv(settings.EXECUTOR_ENV, choice)
        for job in (
            bound(build_accrual_job(chunk_executor("interest_pipeline.accrual.job"))),
            bound(build_posting_job(chunk_executor("interest_pipeline.posting.job"))),
        ):
            assert job.executor_def.name == executor_name
            # the configured executor needs nothing more from a run's config
            dg.validate_run_config(job, {})

    def test_the_default_is_forkserver(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv(settings.EXECUTOR_ENV, raising=False)
        assert settings.load_settings().executor == "forkserver"

    def test_celery_settings_default_to_the_local_rabbitmq(
        self, default_settings: pytest.MonkeyPatch
    ) -> None:
        assert settings.celery_settings() == settings.CelerySettings(
            broker="amqp://guest:guest@127.0.0.1:5672//", backend="rpc://", queue="dagster"
        )

    @pytest.mark.parametrize(
        ("variable", "value", "message"),
        [
            (
                settings.EXECUTOR_ENV,
                "multiprocess",
                "INTEREST_EXECUTOR must be one of forkserver, in_process, celery",
            ),
            (
                settings.CELERY_BROKER_ENV,
                "http://127.0.0.1:5672",
                "INTEREST_CELERY_BROKER must be a URL starting with",
            ),
            (
                settings.CELERY_BACKEND_ENV,
                "postgres://db",
                "INTEREST_CELERY_BACKEND must be a URL starting with",
            ),
            (settings.CELERY_QUEUE_ENV, "chunks queue", "INTEREST_CELERY_QUEUE must be letters"),
        ],
    )
    def test_a_bad_value_is_one_clear_error_naming_the_variable_before_any_command_runs(
        self, variable: str, value: str, message: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv(settings.EXECUTOR_ENV, "celery")
        monkeypatch.setenv(variable, value)
        with pytest.raises(ValueError, match=re.escape(message)):
            settings.load_settings()
        # the CLI refuses at its edge: no job is loaded, nothing launched (`accrue` would need a database)
        result = CliRunner().invoke(main, ["accrue", "--date", "2025-01-31"])
        assert result.exit_code == 2  # a setting is the caller's input, like an option
        assert f"Error: {message}" in result.output
        assert value in result.output

    def test_the_worker_refuses_a_bad_broker_the_same_way(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(settings.CELERY_BROKER_ENV, "localhost:5672")
        result = CliRunner().invoke(main, ["worker", "--concurrency", "1"])
        assert result.exit_code == 2
        assert "INTEREST_CELERY_BROKER must be a URL starting with" in result.output


class TestHelmValues:
    def test_the_user_code_deployment_serves_this_projects_definitions_with_its_variables(self) -> None:
        values = blocks("helm-values")["k8s"]
        [deployment] = values["dagster-user-deployments"]["deployments"]
        assert deployment["dagsterApiGrpcArgs"] == ["--module-name", "interest_pipeline.definitions"]
        env = {e["name"]: e["value"] for e in deployment["env"]}
        assert env[settings.EXECUTOR_ENV] in settings.EXECUTORS
        # the rest come from the secret the docs name, also given to launched runs
        assert deployment["envSecrets"] == [{"name": "interest-pipeline-env"}]
        assert values["runLauncher"]["config"]["k8sRunLauncher"]["envSecrets"] == deployment["envSecrets"]
        text = DOCS.read_text()
        for variable in (
            settings.DATABASE_URL_ENV,
            settings.DAGSTER_DATABASE_URL_ENV,
            settings.CELERY_BROKER_ENV,
        ):
            assert (
                f"`{variable}`"
                in text.split("<!-- helm-values: celery-k8s -->")[0].split("<!-- helm-values: k8s -->")[1]
            )

    def test_the_run_queue_and_monitoring_match_the_compose_instance(self) -> None:
        daemon = blocks("helm-values")["k8s"]["dagsterDaemon"]
        queued = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
        compose = yaml.safe_load(DOCKER_INSTANCE.read_text())["run_coordinator"]["config"]
        assert queued["maxConcurrentRuns"] == compose["max_concurrent_runs"]
        assert queued["tagConcurrencyLimits"] == compose["tag_concurrency_limits"]
        assert daemon["runMonitoring"]["enabled"] is True

    def test_the_launchers_are_the_charts_two_and_celery_k8s_acks_late_too(self) -> None:
        values = blocks("helm-values")
        assert values["k8s"]["runLauncher"]["type"] == "K8sRunLauncher"
        celery_k8s = values["celery-k8s"]["runLauncher"]
        assert celery_k8s["type"] == "CeleryK8sRunLauncher"
        assert celery_k8s["config"]["celeryK8sRunLauncher"]["configSource"] == CELERY_APP_SETTINGS

"""docker/compose.yaml and its files, checked without a Docker engine (none runs on these machines).

Every service built from the project's image must start a real entry point of the installed
package (its `--help` exits 0), get every variable its code and its Dagster instance read, and
wait for what it needs by a condition that can be met.
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster._core.instance.config import dagster_instance_config

from interest_pipeline import settings

CHECKOUT = Path(__file__).resolve().parents[2]
DOCKER = CHECKOUT / "docker"
BIN = Path(sys.executable).parent
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}; `$$` is compose's escaped dollar.
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)((?::?-)[^}]*|(?::?\?)[^}]*)?\}")
# What the project's code reads from the environment in a deployment (none may fall back to the
# embedded server or the repository's defaults in a container).
APP_VARIABLES = {
    settings.DATABASE_URL_ENV,
    settings.DAGSTER_DATABASE_URL_ENV,
    settings.EXECUTOR_ENV,
    settings.CELERY_BROKER_ENV,
    settings.HOME_ENV,
    "DAGSTER_HOME",
}


def env_file() -> dict[str, str]:
    pairs = {}
    for line in (DOCKER / ".env").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def interpolate(text: str, values: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name, tail = match.group(1), match.group(2) or ""
        if name in values:
            return values[name]
        if tail.lstrip(":").startswith("-"):
            return tail.lstrip(":")[1:]
        raise AssertionError(f"${{{name}}} has no value in docker/.env and no default")

    return VARIABLE.sub(one, text.replace("$$", "\0")).replace("\0", "$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(interpolate((DOCKER / "compose.yaml").read_text(), env_file()))
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def app_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services run from the project's image (the others are postgres and rabbitmq)."""
    found = {name: s for name, s in compose["services"].items() if "build" in s}
    assert set(found) == {"migrate", "code-server", "webserver", "daemon", "worker", "api"}
    return found


def command_words(command: list[str] | str) -> list[str]:
    words = shlex.split(command) if isinstance(command, str) else [str(w) for w in command]
    return words


def help_of(words: list[str]) -> subprocess.CompletedProcess[str]:
    """`<entry point> <subcommands...> --help`: the words before the first option, then --help."""
    executable = BIN / words[0]
    assert executable.is_file(), f"{words[0]} is not installed in {BIN}"
    subcommands = []
    for word in words[1:]:
        if word.startswith("-"):
            break
        subcommands.append(word)
    return subprocess.run(
        [str(executable), *subcommands, "--help"], capture_output=True, text=True, timeout=120, check=False
    )


def health_words(service: dict[str, Any]) -> list[str]:
    test = service["healthcheck"]["test"]
    assert test[0] in ("CMD", "CMD-SHELL"), test
    return shlex.split(test[1]) if test[0] == "CMD-SHELL" else test[1:]


class TestCommands:
    @pytest.mark.parametrize("name", ["migrate", "code-server", "webserver", "daemon", "worker"])
    def test_each_app_service_starts_an_installed_entry_point_whose_help_exits_0(
        self, app_services: dict[str, dict[str, Any]], name: str
    ) -> None:
        words = command_words(app_services[name]["command"])
        assert words[0] in ("interest-pipeline", "dagster", "dagster-webserver", "dagster-daemon")
        done = help_of(words)
        assert done.returncode == 0, done.stderr
        assert "Usage:" in done.stdout

    @pytest.mark.parametrize("name", ["code-server", "webserver", "daemon", "worker"])
    def test_each_app_healthcheck_is_an_installed_command_too(
        self, app_services: dict[str, dict[str, Any]], name: str
    ) -> None:
        words = health_words(app_services[name])
        if words[0] == "python":  # a one-line probe of the service's own HTTP port
            assert (BIN / "python").is_file()
            compile(words[2], "<healthcheck>", "exec")
            return
        done = help_of(words)
        assert done.returncode == 0, done.stderr

    def test_no_service_runs_dagster_dev(self, compose: dict[str, Any]) -> None:
        for service in compose["services"].values():
            words = command_words(service.get("command", []))
            assert words[:2] != ["dagster", "dev"]
            assert "ui" not in words[:2]

    def test_the_code_server_serves_this_projects_definitions_where_the_workspace_looks(
        self, app_services: dict[str, dict[str, Any]]
    ) -> None:
        words = command_words(app_services["code-server"]["command"])
        module = words[words.index("--module-name") + 1]
        port = int(words[words.index("--port") + 1])
        assert module == "interest_pipeline.definitions"
        [location] = yaml.safe_load((DOCKER / "workspace.yaml").read_text())["load_from"]
        assert location["grpc_server"]["host"] == "code-server"
        assert location["grpc_server"]["port"] == port
        for name in ("webserver", "daemon"):
            words = command_words(app_services[name]["command"])
            assert words[words.index("--workspace") + 1] == "/opt/dagster/home/workspace.yaml"


class TestEnvironment:
    def test_every_variable_the_file_uses_is_set_by_docker_env_or_a_default(self) -> None:
        text = (DOCKER / "compose.yaml").read_text().replace("$$", "")
        used = {
            m.group(1) for m in VARIABLE.finditer(text) if not (m.group(2) or "").lstrip(":").startswith("-")
        }
        assert used
        assert used <= set(env_file()), used - set(env_file())

    @pytest.mark.parametrize("name", ["migrate", "code-server", "webserver", "daemon", "worker"])
    def test_each_app_service_gets_what_the_code_and_the_instance_read(
        self, app_services: dict[str, dict[str, Any]], name: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        environment = {k: str(v) for k, v in app_services[name]["environment"].items()}
        instance_yaml = (DOCKER / "dagster.yaml").read_text()
        instance_variables = set(re.findall(r"env: (\w+)", instance_yaml))
        assert instance_variables == {
            "DAGSTER_POSTGRES_USER",
            "DAGSTER_POSTGRES_PASSWORD",
            "DAGSTER_POSTGRES_HOST",
            "DAGSTER_POSTGRES_DB",
        }
        assert APP_VARIABLES | instance_variables <= set(environment)
        assert all(environment[v] for v in APP_VARIABLES | instance_variables)
        for key, value in environment.items():
            monkeypatch.setenv(key, value)
        assert settings.load_settings().executor == "celery"
        assert settings.celery_settings().broker.startswith("amqp://")
        # the app's storage and Dagster's are the databases the postgres service makes
        assert environment[settings.DAGSTER_DATABASE_URL_ENV].endswith(
            f"@{environment['DAGSTER_POSTGRES_HOST']}:5432/{environment['DAGSTER_POSTGRES_DB']}"
        )

    def test_the_dagster_databases_name_is_the_one_postgres_init_creates(self) -> None:
        init = (DOCKER / "postgres-init.sql").read_text()
        assert f"CREATE DATABASE {env_file()['DAGSTER_POSTGRES_DB']};" in init


class TestInstance:
    def test_docker_dagster_yaml_is_a_valid_instance_config_of_the_production_parts(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        for name in (
            "DAGSTER_POSTGRES_USER",
            "DAGSTER_POSTGRES_PASSWORD",
            "DAGSTER_POSTGRES_HOST",
            "DAGSTER_POSTGRES_DB",
        ):
            monkeypatch.setenv(name, "x")
        config, _ = dagster_instance_config(str(DOCKER))  # raises on any schema error
        assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
        [limit] = config["run_coordinator"]["config"]["tag_concurrency_limits"]
        assert limit == {
            "key": "interest_pipeline/job_type",
            "value": {"applyLimitPerUniqueValue": True},
            "limit": 1,
        }
        assert config["run_monitoring"]["enabled"] is True
        assert config["storage"]["postgres"]["postgres_db"]["scheme"] == "postgresql+psycopg2"

    def test_the_run_process_and_every_worker_share_the_step_output_folder(
        self, app_services: dict[str, dict[str, Any]]
    ) -> None:
        base_dir = yaml.safe_load((DOCKER / "dagster.yaml").read_text())["local_artifact_storage"]["config"][
            "base_dir"
        ]
        for name in ("code-server", "worker"):  # the run process runs in the code server
            assert f"dagster-storage:{base_dir}" in app_services[name]["volumes"]

    def test_the_image_carries_the_instance_and_workspace_where_dagster_home_points(
        self, app_services: dict[str, dict[str, Any]]
    ) -> None:
        home = app_services["worker"]["environment"]["DAGSTER_HOME"]
        assert (
            f"COPY docker/dagster.yaml docker/workspace.yaml {home}/" in (DOCKER / "Dockerfile").read_text()
        )


class TestStartOrder:
    def test_every_dependency_has_a_condition_that_can_be_met(self, compose: dict[str, Any]) -> None:
        services = compose["services"]
        for name, service in services.items():
            for target, rule in service.get("depends_on", {}).items():
                condition = rule["condition"]
                if condition == "service_healthy":
                    assert "healthcheck" in services[target], (name, target)
                else:
                    assert condition == "service_completed_successfully", (name, target)
                    assert services[target]["restart"] == "no", (name, target)
        assert (
            services["code-server"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        )
        assert services["worker"]["depends_on"]["rabbitmq"]["condition"] == "service_healthy"

    def test_workers_scale_no_name_or_host_port_pins_one(self, compose: dict[str, Any]) -> None:
        worker = compose["services"]["worker"]
        assert "container_name" not in worker and "ports" not in worker and "hostname" not in worker


def test_the_readme_says_compose_was_not_run_here() -> None:
    assert "not been run" in (DOCKER / "README.md").read_text()
    assert os.path.exists(DOCKER / "compose.yaml")

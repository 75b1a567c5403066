"""Settings are read once (interest_pipeline.settings): no module reads the environment at import
time, the settings object is made when a command starts or the Definitions are built, each bad
value is one error naming its variable before anything is written, and the defaults."""

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from click.testing import CliRunner
from sqlalchemy.engine import URL

from interest_pipeline import settings
from interest_pipeline.cli import main
from interest_pipeline.definitions import build_definitions
from interest_pipeline.settings import (
    Settings,
    SettingsError,
    current_settings,
    forget_settings,
    libpq_url,
    load_settings,
)

PACKAGE = Path(settings.__file__).parent

POISON = {settings.TIMEZONE_ENV: "Not/AZone", settings.STEP_PROCESSES_ENV: "abc"}
POISONED_TIMEZONE = (
    "INTEREST_BUSINESS_TIMEZONE must be an IANA time zone such as UTC or Europe/Zurich, got 'Not/AZone'"
)
POISONED_STEPS = "INTEREST_STEP_PROCESSES must be a whole number from 1 to 256, got 'abc'"

# Imports every module but the definitions, then builds the settings, then imports the definitions.
IMPORT_ALL = """
import importlib, json, pkgutil
import interest_pipeline
names = [m.name for m in pkgutil.walk_packages(interest_pipeline.__path__, "interest_pipeline.")]
failed = {}
for name in names:
    if name != "interest_pipeline.definitions":
        try:
            importlib.import_module(name)
        except Exception as error:
            failed[name] = repr(error)
from interest_pipeline.settings import SettingsError, load_settings
outcome = {"modules": names, "failed": failed, "settings": None, "definitions": None}
try:
    load_settings()
except SettingsError as error:
    outcome["settings"] = str(error)
try:
    importlib.import_module("interest_pipeline.definitions")
except SettingsError as error:
    outcome["definitions"] = str(error)
print(json.dumps(outcome))
"""


def without_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("INTEREST_"):
            monkeypatch.delenv(name)


class TestNothingIsReadAtImport:
    def test_every_module_imports_with_a_poisoned_environment_and_building_the_settings_names_it(
        self,
    ) -> None:
        env = {**os.environ, **POISON}
        done = subprocess.run(
            [sys.executable, "-c", IMPORT_ALL], env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr
        outcome = json.loads(done.stdout.splitlines()[-1])
        assert outcome["failed"] == {}
        # every module of the package is walked (the migrations are alembic's scripts, not modules)
        sources = [p for p in PACKAGE.rglob("*.py") if "migrations" not in p.relative_to(PACKAGE).parts]
        assert len(outcome["modules"]) == len(sources) - 1  # the package's own __init__
        # building the settings (and so the Definitions) is one error naming each variable
        assert outcome["settings"] == f"{POISONED_TIMEZONE}; {POISONED_STEPS}"
        assert outcome["definitions"] == outcome["settings"]


class TestReadOnce:
    def test_the_loaded_instance_is_the_one_used_until_settings_are_read_again(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv(settings.STEP_PROCESSES_ENV, "4")
        loaded = load_settings()
        monkeypatch.setenv(settings.STEP_PROCESSES_ENV, "9")
        assert current_settings() is loaded
        assert current_settings().step_processes == 4
        forget_settings()
        assert current_settings().step_processes == 9

    def test_the_definitions_are_built_from_the_settings_they_are_given(self) -> None:
        given = Settings(
            business_timezone="Europe/Zurich", partitions_start=date(2024, 3, 1), executor="in_process"
        )
        defs = build_definitions(given)
        for name in ("daily_interest_accrual", "interest_posting"):
            job = defs.get_job_def(name)
            assert isinstance(job.partitions_def, dg.DailyPartitionsDefinition)
            assert job.partitions_def.timezone == "Europe/Zurich"
            assert job.partitions_def.start.date() == date(2024, 3, 1)
            assert job.executor_def is dg.in_process_executor

    def test_a_command_reads_the_environment_it_starts_with(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(settings.STEP_PROCESSES_ENV, "3")
        load_settings()
        monkeypatch.setenv(settings.STEP_PROCESSES_ENV, "0")
        result = CliRunner().invoke(main, ["accrue", "--date", "2025-01-31"])
        assert result.exit_code == 2
        assert "INTEREST_STEP_PROCESSES must be a whole number from 1 to 256, got '0'" in result.output


DEFAULTS = {
    "database_url": None,
    "dagster_database_url": None,
    "home": settings.REPO_ROOT / ".interest-pipeline",
    "business_timezone": "UTC",
    "partitions_start": date(2020, 1, 1),
    "step_processes": 5,  # cpu_count() + 1, with 4 cores
    "executor": "forkserver",
    "celery_broker": "amqp://guest:guest@127.0.0.1:5672//",
    "celery_backend": "rpc://",
    "celery_queue": "dagster",
    "alert_webhook_url": None,
    "alert_smtp_url": None,
    "alert_email_to": (),
    "alert_email_from": "interest-pipeline@localhost",
    "dagster_url": "http://127.0.0.1:3000",
    "dagster_graphql_url": "http://127.0.0.1:3000/graphql",
    "api_jwt_secret": None,
}


class TestDefaults:
    def test_every_setting_has_its_default_when_unset(self, monkeypatch: pytest.MonkeyPatch) -> None:
        without_settings(monkeypatch)
        monkeypatch.setattr(os, "cpu_count", lambda: 4)
        assert load_settings().model_dump() == DEFAULTS

    def test_an_empty_variable_counts_as_unset(self, monkeypatch: pytest.MonkeyPatch) -> None:
        without_settings(monkeypatch)
        monkeypatch.setattr(os, "cpu_count", lambda: 4)
        for name in Settings.model_fields:
            monkeypatch.setenv(settings.HOME_ENV if name == "home" else f"INTEREST_{name.upper()}", "")
        assert load_settings().model_dump() == DEFAULTS

    def test_values_are_read_from_their_variables(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        without_settings(monkeypatch)
        values = {
            settings.HOME_ENV: str(tmp_path),
            settings.STEP_PROCESSES_ENV: "7",
            settings.PARTITIONS_START_ENV: "2023-06-30",
            settings.ALERT_SMTP_URL_ENV: "smtp://mail.example:25",
            settings.ALERT_EMAIL_TO_ENV: " ops@bank.example, risk@bank.example ,",
            settings.DAGSTER_URL_ENV: "https://dagster.bank.example/",
            settings.JWT_SECRET_ENV: "s3cret",
            settings.EXECUTOR_ENV: "celery",
            settings.CELERY_BROKER_ENV: "redis://cache:6379/0",
        }
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        loaded = load_settings()
        assert loaded.home == tmp_path and loaded.dagster_home == tmp_path / "dagster"
        assert (loaded.step_processes, loaded.partitions_start) == (7, date(2023, 6, 30))
        assert loaded.alert_email_to == ("ops@bank.example", "risk@bank.example")
        assert loaded.dagster_url == "https://dagster.bank.example"  # the trailing slash dropped
        assert (loaded.api_jwt_secret, loaded.executor) == ("s3cret", "celery")
        assert settings.celery_settings(loaded) == settings.CelerySettings(
            broker="redis://cache:6379/0", backend="rpc://", queue="dagster"
        )
        # secrets and URLs that may carry passwords stay out of the printed settings
        assert "s3cret" not in repr(loaded) and "redis://" not in repr(loaded)


BAD_VALUES = [
    (
        settings.DATABASE_URL_ENV,
        "mysql://db.example/core",
        "INTEREST_DATABASE_URL must be a postgresql:// URL naming a database, got 'mysql://db.example/core'",
    ),
    (
        settings.DAGSTER_DATABASE_URL_ENV,
        "postgresql://db.example",
        "INTEREST_DAGSTER_DATABASE_URL must be a postgresql:// URL naming a database,"
        " got 'postgresql://db.example'",
    ),
    (settings.TIMEZONE_ENV, "Europe/Londn", POISONED_TIMEZONE.replace("Not/AZone", "Europe/Londn")),
    (
        settings.PARTITIONS_START_ENV,
        "2020-13-01",
        "INTEREST_PARTITIONS_START must be a date as YYYY-MM-DD, got '2020-13-01'",
    ),
    (
        settings.STEP_PROCESSES_ENV,
        "257",
        "INTEREST_STEP_PROCESSES must be a whole number from 1 to 256, got '257'",
    ),
    (
        settings.EXECUTOR_ENV,
        "multiprocess",
        "INTEREST_EXECUTOR must be one of forkserver, in_process, celery, got 'multiprocess'",
    ),
    (
        settings.CELERY_BROKER_ENV,
        "http://127.0.0.1:5672",
        "INTEREST_CELERY_BROKER must be a URL starting with one of amqp://, amqps://, pyamqp://,"
        " redis://, rediss://, got 'http://127.0.0.1:5672'",
    ),
    (
        settings.CELERY_BACKEND_ENV,
        "postgres://db",
        "INTEREST_CELERY_BACKEND must be a URL starting with one of rpc://, redis://, rediss://,"
        " got 'postgres://db'",
    ),
    (
        settings.CELERY_QUEUE_ENV,
        "chunks queue",
        "INTEREST_CELERY_QUEUE must be letters, digits, '.', '_' or '-', got 'chunks queue'",
    ),
    (
        settings.ALERT_WEBHOOK_URL_ENV,
        "ftp://hooks.example/alerts",
        "INTEREST_ALERT_WEBHOOK_URL must be an http:// or https:// URL, got 'ftp://hooks.example/alerts'",
    ),
    (
        settings.ALERT_SMTP_URL_ENV,
        "mail.example:25",
        "INTEREST_ALERT_SMTP_URL must be smtp://[user:password@]host[:port] or smtps://...,"
        " got 'mail.example:25'",
    ),
    (
        settings.ALERT_EMAIL_TO_ENV,
        "ops@bank.example,risk",
        "INTEREST_ALERT_EMAIL_TO must be comma-separated e-mail addresses, got 'risk'",
    ),
    (
        settings.DAGSTER_GRAPHQL_URL_ENV,
        "http://127.0.0.1:3000/api",
        "INTEREST_DAGSTER_GRAPHQL_URL must end in /graphql, got 'http://127.0.0.1:3000/api'",
    ),
    (
        settings.DAGSTER_GRAPHQL_URL_ENV,
        "dagster:3000/graphql",
        "INTEREST_DAGSTER_GRAPHQL_URL must be an http(s) URL, got 'dagster:3000/graphql'",
    ),
]


def executions(url: URL) -> int:
    with psycopg.connect(libpq_url(url)) as conn:
        row = conn.execute("SELECT count(*) FROM interest_batch_execution").fetchone()
    assert row is not None
    return int(row[0])


class TestABadValue:
    @pytest.mark.parametrize(("variable", "value", "message"), BAD_VALUES)
    def test_is_one_error_naming_the_variable_and_the_value(
        self, variable: str, value: str, message: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv(variable, value)
        with pytest.raises(SettingsError) as raised:
            load_settings()
        assert str(raised.value) == message

    def test_smtp_without_recipients_is_refused(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv(settings.ALERT_EMAIL_TO_ENV, raising=False)
        monkeypatch.setenv(settings.ALERT_SMTP_URL_ENV, "smtp://mail.example")
        with pytest.raises(SettingsError) as raised:
            load_settings()
        assert str(raised.value) == (
            "INTEREST_ALERT_EMAIL_TO must name at least one address when INTEREST_ALERT_SMTP_URL is set"
        )

    @pytest.mark.parametrize(("variable", "value", "message"), BAD_VALUES)
    def test_stops_a_command_with_that_one_line_before_anything_is_written(
        self,
        variable: str,
        value: str,
        message: str,
        clean_db: URL,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        home = tmp_path / "home"
        monkeypatch.setenv(settings.HOME_ENV, str(home))
        monkeypatch.delenv("DAGSTER_HOME", raising=False)
        monkeypatch.delenv(settings.DAGSTER_PG_URL_ENV, raising=False)
        monkeypatch.setenv(variable, value)
        result = CliRunner().invoke(main, ["accrue", "--date", "2025-01-31"])
        assert result.exit_code == 2
        assert result.output.splitlines() == [f"Error: {message}"]
        # no run launched, no execution recorded, no Dagster home or embedded server made
        assert executions(clean_db) == 0
        assert not home.exists()

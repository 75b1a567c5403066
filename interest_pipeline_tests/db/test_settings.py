"""Database selection: INTEREST_DATABASE_URL when set, else an embedded PostgreSQL that cleans up after itself."""

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import yaml
from sqlalchemy.engine import URL

from interest_pipeline import settings
from interest_pipeline.settings import (
    SettingsError,
    dagster_database_url,
    ensure_dagster_home,
    libpq_url,
    load_settings,
    sqlalchemy_url,
    with_database,
)


class TestUrls:
    def test_plain_url_gets_the_psycopg3_driver(self) -> None:
        url = sqlalchemy_url("postgresql://bank@db.example:5432/core")
        assert (url.drivername, url.host, url.database) == ("postgresql+psycopg", "db.example", "core")

    def test_libpq_url_keeps_a_socket_directory(self) -> None:
        url = libpq_url("postgresql+psycopg://postgres:@/interest?host=/var/run/pg data")
        assert url.startswith("postgresql://postgres")
        assert "host=" in url and "interest" in url

    def test_with_database_swaps_only_the_name(self) -> None:
        url = with_database("postgresql://u@h:1/a", "b")
        assert (url.host, url.port, url.database) == ("h", 1, "b")


class TestSettings:
    def test_defaults(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name in (settings.HOME_ENV, settings.TIMEZONE_ENV, settings.PARTITIONS_START_ENV):
            monkeypatch.delenv(name, raising=False)
        loaded = load_settings()
        assert (loaded.business_timezone, loaded.partitions_start.isoformat()) == ("UTC", "2020-01-01")
        assert loaded.home == settings.REPO_ROOT / ".interest-pipeline"

    def test_step_processes_default_to_one_more_than_the_cores(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv(settings.STEP_PROCESSES_ENV, raising=False)
        monkeypatch.setattr(os, "cpu_count", lambda: 6)
        assert load_settings().step_processes == 7

    def test_step_processes_can_be_set(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(settings.STEP_PROCESSES_ENV, "12")
        assert load_settings().step_processes == 12

    @pytest.mark.parametrize("bad", ["0", "-1", "two", "1.5"])
    def test_a_bad_step_process_count_fails_at_once(self, monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
        monkeypatch.setenv(settings.STEP_PROCESSES_ENV, bad)
        with pytest.raises(
            SettingsError, match=f"INTEREST_STEP_PROCESSES must be a whole number from 1 to 256, got '{bad}'"
        ):
            load_settings()

    def test_a_misspelt_timezone_fails_at_once(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(settings.TIMEZONE_ENV, "Europe/Londn")
        with pytest.raises(
            SettingsError, match=r"INTEREST_BUSINESS_TIMEZONE must be an IANA time zone .* got 'Europe/Londn'"
        ):
            load_settings()


class TestDagsterInstance:
    def test_dagster_storage_is_a_database_of_its_own_next_to_the_app(self, database_url: URL) -> None:
        url = dagster_database_url()
        assert url.drivername == "postgresql+psycopg2"  # dagster-postgres speaks psycopg2
        assert url.database == f"{database_url.database}_dagster"
        with psycopg.connect(libpq_url(url)) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == (url.database,)

    def test_dagster_home_is_made_from_the_packaged_dagster_yaml(
        self, database_url: URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("DAGSTER_HOME", raising=False)
        monkeypatch.delenv(settings.DAGSTER_PG_URL_ENV, raising=False)
        monkeypatch.setenv(settings.HOME_ENV, str(tmp_path))
        home = ensure_dagster_home()
        assert home == tmp_path / "dagster"
        assert os.environ["DAGSTER_HOME"] == str(home)
        copied = (home / "dagster.yaml").read_text()
        assert copied == (Path(settings.__file__).parent / "dagster.yaml").read_text()
        config = yaml.safe_load(copied)
        assert config["storage"]["postgres"]["postgres_url"] == {"env": settings.DAGSTER_PG_URL_ENV}
        assert os.environ[settings.DAGSTER_PG_URL_ENV].startswith("postgresql+psycopg2://")


EMBEDDED_PROBE = """
import os, psutil
from interest_pipeline.settings import database_url, libpq_url
import psycopg
url = database_url()
with psycopg.connect(libpq_url(url)) as conn:
    print(conn.execute("SELECT current_database()").fetchone()[0])
print(os.environ["INTEREST_DATABASE_URL"].split("?")[0])
"""


class TestEmbeddedServer:
    def test_starts_without_a_url_and_stops_when_the_process_ends(self, tmp_path: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("INTEREST_")}
        env[settings.HOME_ENV] = str(tmp_path / "home")
        done = subprocess.run(
            [sys.executable, "-c", EMBEDDED_PROBE], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == [
            settings.EMBEDDED_DATABASE,
            f"postgresql+psycopg://postgres:@/{settings.EMBEDDED_DATABASE}",
        ]
        pgdata = tmp_path / "home" / "pgdata"
        assert (pgdata / "PG_VERSION").exists()
        # 'stop' cleanup: the last process using the server shuts it down, leaving no stray postgres.
        assert not (pgdata / "postmaster.pid").exists()

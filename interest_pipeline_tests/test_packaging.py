"""A wheel (non-editable) install carries and finds the files the code reads at run time.

The wheel is built from a copy of the checkout, installed into a folder of its own, and used from
a process whose working directory is elsewhere: the migrations must come from that install (and
migrate a fresh database), and DAGSTER_HOME's dagster.yaml from the installed package.
"""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from interest_pipeline import settings
from interest_pipeline_tests.support.database import fresh_database

CHECKOUT = Path(__file__).resolve().parent.parent
SOURCE_MIGRATIONS = CHECKOUT / "interest_pipeline" / "migrations"

INSTALLED_PROBE = """
import json, sys
from alembic.script import ScriptDirectory
import interest_pipeline
from interest_pipeline.db import migrate
from interest_pipeline.settings import ensure_dagster_home

url = sys.argv[1]
migrate.upgrade(url)
scripts = ScriptDirectory.from_config(migrate.alembic_config(url))
print(json.dumps({
    "package": interest_pipeline.__file__,
    "migrations": str(migrate.MIGRATIONS_DIR),
    "revisions": sorted(r.revision for r in scripts.walk_revisions()),
    "current": migrate.current_revision(url),
    "dagster_yaml": (ensure_dagster_home() / "dagster.yaml").read_text(),
}))
"""


def _pip(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(
        CHECKOUT,
        source,
        symlinks=True,
        ignore=shutil.ignore_patterns(
            ".venv", ".git", "build", "*.egg-info", ".interest-pipeline", "__pycache__"
        ),
    )
    _pip("wheel", "--no-deps", "--quiet", "--wheel-dir", str(work / "dist"), str(source))
    (built,) = (work / "dist").glob("interest_pipeline-*.whl")
    return built


class TestWheel:
    def test_ships_dagster_yaml_and_every_migration_and_no_tests(self, wheel: Path) -> None:
        names = set(zipfile.ZipFile(wheel).namelist())
        migrations = {
            f"interest_pipeline/migrations/{p.relative_to(SOURCE_MIGRATIONS).as_posix()}"
            for p in SOURCE_MIGRATIONS.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        }
        assert {n for n in names if n.startswith("interest_pipeline/migrations/")} == migrations
        assert {
            "interest_pipeline/dagster.yaml",
            "interest_pipeline/migrations/env.py",
            "interest_pipeline/migrations/script.py.mako",
            "interest_pipeline/migrations/versions/0001_initial_schema.py",
        } <= names
        assert [n for n in names if n.startswith("interest_pipeline_tests/")] == []

    def test_an_installed_wheel_migrates_and_makes_dagster_home_from_its_own_files(
        self, wheel: Path, tmp_path: Path
    ) -> None:
        site = tmp_path / "site"
        _pip("install", "--no-deps", "--quiet", "--target", str(site), str(wheel))
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", settings.DAGSTER_PG_URL_ENV)}
        # the install comes first on sys.path; the checkout's editable finder only answers after it
        env["PYTHONPATH"] = str(site)
        env[settings.HOME_ENV] = str(tmp_path / "home")
        with fresh_database(migrated=False, prefix="ip_wheel") as url:
            env[settings.DATABASE_URL_ENV] = url.render_as_string(hide_password=False)
            done = subprocess.run(
                [sys.executable, "-c", INSTALLED_PROBE, url.render_as_string(hide_password=False)],
                cwd=elsewhere,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
        assert done.returncode == 0, done.stderr
        found = json.loads(done.stdout.splitlines()[-1])
        assert Path(found["package"]) == site / "interest_pipeline" / "__init__.py"
        assert Path(found["migrations"]) == site / "interest_pipeline" / "migrations"
        source_revisions = sorted(
            p.name.split("_")[0] for p in (SOURCE_MIGRATIONS / "versions").glob("0*.py")
        )
        assert found["revisions"] == source_revisions
        assert found["current"] == source_revisions[-1]
        assert found["dagster_yaml"] == (site / "interest_pipeline" / "dagster.yaml").read_text()
        assert "INTEREST_DAGSTER_PG_URL" in found["dagster_yaml"]


# The installed package's own command line, as a console script would call it.
INSTALLED_CLI = "from interest_pipeline.cli import main; main()"


def test_an_installed_wheel_migrates_a_fresh_database_and_accrues_a_date_through_the_real_job(
    wheel: Path, tmp_path: Path
) -> None:
    """From outside the checkout: db upgrade, generate, and `accrue --date` (the job on its default
    executor, step processes forked from the installed package), then the rows it wrote."""
    site = tmp_path / "site"
    _pip("install", "--no-deps", "--quiet", "--target", str(site), str(wheel))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DAGSTER_HOME", settings.DAGSTER_PG_URL_ENV, settings.DAGSTER_DATABASE_URL_ENV)
        and k != settings.EXECUTOR_ENV
    }
    env["PYTHONPATH"] = str(site)
    env[settings.HOME_ENV] = str(tmp_path / "home")

    def installed(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", INSTALLED_CLI, *args],
            cwd=elsewhere,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
        return done.stdout

    with fresh_database(migrated=False, prefix="ip_wheel_job") as url:
        env[settings.DATABASE_URL_ENV] = url.render_as_string(hide_password=False)
        installed("db", "upgrade")
        installed("generate", "--accounts", "300", "--start", "2025-01-01", "--days", "31", "--seed", "5")
        out = installed("accrue", "--date", "2025-01-31")
        with psycopg.connect(settings.libpq_url(url)) as conn:
            status, processed, succeeded, totals = conn.execute(
                "SELECT status, accounts_processed, accounts_succeeded, totals_by_currency"
                " FROM interest_batch_execution WHERE job_type = 'daily_interest_accrual'"
            ).fetchone()  # type: ignore[misc]
            rows, by_currency = conn.execute(
                "SELECT count(*), (SELECT jsonb_object_agg(currency, total) FROM (SELECT a.currency,"
                " sum(i.amount)::text AS total FROM interest_accruals i JOIN accounts a ON a.id = i.account_id"
                " GROUP BY a.currency) t) FROM interest_accruals WHERE accrual_date = '2025-01-31'"
            ).fetchone()  # type: ignore[misc]
    assert "2025-01-31 daily_interest_accrual" in out and "SUCCESS" in out
    assert status == "SUCCESS"
    assert 0 < succeeded == rows <= processed <= 300
    assert {c: Decimal(t) for c, t in totals.items()} == {c: Decimal(t) for c, t in by_currency.items()}

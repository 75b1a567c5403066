"""`post` and `run`: real runs on the configured Dagster instance, one per date (and job), in order."""

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import click
import dagster as dg
import psycopg
import pytest
from click.testing import CliRunner

from interest_pipeline.cli.posting import register_posting_commands
from interest_pipeline.settings import DAGSTER_DATABASE_URL_ENV
from interest_pipeline_tests.accrual.test_cli import refused_accruals
from interest_pipeline_tests.posting.support import Book, accrue_days, days, product


@pytest.fixture
def dagster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A sqlite-backed instance in a temporary DAGSTER_HOME, as a user's dagster.yaml would configure."""
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv(DAGSTER_DATABASE_URL_ENV, "postgresql://unused.invalid/none")
    yield tmp_path


@pytest.fixture
def cli() -> click.Group:
    group = click.Group()
    register_posting_commands(group)
    return group


@pytest.fixture
def book(conn: psycopg.Connection) -> Book:
    book = Book()
    facts = book.add_product(product("SAV", tax="15"))
    for account_id in (1, 2):
        book.add_account(facts, account_id)
    book.write(conn)
    return book


def runs(home: Path) -> list[tuple[str, str, dg.DagsterRunStatus]]:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        ordered = sorted(
            instance.get_runs(),
            key=lambda r: instance.get_run_record_by_id(r.run_id).create_timestamp,  # type: ignore[union-attr]
        )
        return [(r.job_name, r.tags["dagster/partition"], r.status) for r in ordered]


class TestPostCommand:
    def test_one_date_is_one_posting_run(
        self, cli: click.Group, conn: psycopg.Connection, book: Book, dagster_home: Path
    ) -> None:
        accrue_days(conn, book, days(date(2025, 1, 1), date(2025, 1, 31)))
        outcome = CliRunner().invoke(cli, ["post", "--date", "2025-01-31"])
        assert outcome.exit_code == 0, outcome.output
        assert runs(dagster_home) == [("interest_posting", "2025-01-31", dg.DagsterRunStatus.SUCCESS)]
        assert conn.execute("SELECT account_id, gross FROM interest_postings ORDER BY 1").fetchall() == [
            (1, Decimal("8.49")),
            (2, Decimal("8.49")),
        ]
        assert "2 posted, 0 skipped, 0 failed" in outcome.output

    def test_range_posts_each_date_in_order(
        self, cli: click.Group, conn: psycopg.Connection, book: Book, dagster_home: Path
    ) -> None:
        outcome = CliRunner().invoke(cli, ["post", "--from", "2025-01-30", "--to", "2025-02-01"])
        assert outcome.exit_code == 0, outcome.output
        assert [r[1] for r in runs(dagster_home)] == ["2025-01-30", "2025-01-31", "2025-02-01"]


class TestRunCommand:
    def test_accrues_then_posts_each_date(
        self, cli: click.Group, conn: psycopg.Connection, book: Book, dagster_home: Path
    ) -> None:
        outcome = CliRunner().invoke(cli, ["run", "--from", "2025-01-30", "--to", "2025-02-01", "--per-date"])
        assert outcome.exit_code == 0, outcome.output
        assert [(job, key) for job, key, _ in runs(dagster_home)] == [
            ("daily_interest_accrual", "2025-01-30"),
            ("interest_posting", "2025-01-30"),
            ("daily_interest_accrual", "2025-01-31"),
            ("interest_posting", "2025-01-31"),
            ("daily_interest_accrual", "2025-02-01"),
            ("interest_posting", "2025-02-01"),
        ]
        # the book opened 2024-01-01 but accrual starts 2025-01-30: two nights posted on Jan 31
        assert conn.execute(
            "SELECT account_id, accrual_count FROM interest_postings ORDER BY 1"
        ).fetchall() == [
            (1, 2),
            (2, 2),
        ]

    def test_stops_with_an_error_at_the_first_failed_run(
        self, cli: click.Group, book: Book, dagster_home: Path, conn: psycopg.Connection
    ) -> None:
        with refused_accruals(conn, "2025-01-30"):
            outcome = CliRunner().invoke(
                cli, ["run", "--from", "2025-01-30", "--to", "2025-02-01", "--per-date"]
            )
        assert outcome.exit_code != 0
        assert runs(dagster_home) == [("daily_interest_accrual", "2025-01-30", dg.DagsterRunStatus.FAILURE)]
        assert "5 later run(s) not launched" in outcome.output

    def test_a_small_book_catches_up_in_one_ranged_run_by_default(
        self, cli: click.Group, conn: psycopg.Connection, book: Book, dagster_home: Path
    ) -> None:
        outcome = CliRunner().invoke(cli, ["run", "--from", "2025-01-30", "--to", "2025-02-01"])
        assert outcome.exit_code == 0, outcome.output
        with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
            [run] = instance.get_runs()
        assert run.job_name == "interest_ranged_run" and run.status == dg.DagsterRunStatus.SUCCESS
        assert (
            run.tags["dagster/asset_partition_range_start"],
            run.tags["dagster/asset_partition_range_end"],
        ) == (
            "2025-01-30",
            "2025-02-01",
        )
        rows = conn.execute(
            "SELECT id, business_date::text, job_type, status FROM interest_batch_execution ORDER BY started_at"
        ).fetchall()
        assert [r[1:] for r in rows] == [
            (day, job, "SUCCESS")
            for day in ("2025-01-30", "2025-01-31", "2025-02-01")
            for job in ("daily_interest_accrual", "interest_posting")
        ]
        assert [r[0] for r in rows] == [f"{run.run_id}~{job}~{day}" for _, day, job, _ in rows]
        # the same postings as the run per date and job above
        assert conn.execute(
            "SELECT account_id, accrual_count FROM interest_postings ORDER BY 1"
        ).fetchall() == [
            (1, 2),
            (2, 2),
        ]

    def test_a_ranged_catch_up_stops_at_the_first_failed_date(
        self, cli: click.Group, book: Book, dagster_home: Path, conn: psycopg.Connection
    ) -> None:
        with refused_accruals(conn, "2025-01-31"):
            outcome = CliRunner().invoke(cli, ["run", "--from", "2025-01-30", "--to", "2025-02-01"])
        assert outcome.exit_code != 0
        assert (
            "for 2025-01-31 FAILURE" in outcome.output and "accruals of 2025-01-31 refused" in outcome.output
        )
        assert "3 later run(s) not launched" in outcome.output
        assert conn.execute(
            "SELECT business_date::text, job_type, status FROM interest_batch_execution ORDER BY started_at"
        ).fetchall() == [
            ("2025-01-30", "daily_interest_accrual", "SUCCESS"),
            ("2025-01-30", "interest_posting", "SUCCESS"),
            ("2025-01-31", "daily_interest_accrual", "FAILED"),
        ]

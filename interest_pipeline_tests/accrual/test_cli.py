"""`interest-pipeline accrue`: real runs on the configured Dagster instance, one per date, in order."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from click.testing import CliRunner

from interest_pipeline.cli import main
from interest_pipeline.settings import DAGSTER_DATABASE_URL_ENV
from interest_pipeline_tests.accrual.book import Book


@pytest.fixture
def dagster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A sqlite-backed instance in a temporary DAGSTER_HOME, as a user's dagster.yaml would configure."""
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    # The instance is configured above; keep ensure_dagster_home from resolving a PostgreSQL one.
    monkeypatch.setenv(DAGSTER_DATABASE_URL_ENV, "postgresql://unused.invalid/none")
    yield tmp_path


def _runs(home: Path) -> list[dg.DagsterRun]:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return sorted(
            instance.get_runs(), key=lambda r: instance.get_run_record_by_id(r.run_id).create_timestamp
        )  # type: ignore[union-attr]


@contextmanager
def refused_accruals(conn: psycopg.Connection, day: str) -> Iterator[None]:
    """A trigger that makes every accrual of `day` fail with a check violation, while in the block."""
    conn.execute(
        "CREATE FUNCTION refuse_day() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        f" IF NEW.accrual_date = '{day}' THEN RAISE check_violation USING MESSAGE = 'accruals of {day} refused';"
        " END IF; RETURN NEW; END $$"
    )
    conn.execute(
        "CREATE TRIGGER refuse_day BEFORE INSERT ON interest_accrual_entries FOR EACH ROW EXECUTE FUNCTION refuse_day()"
    )
    try:
        yield
    finally:
        conn.execute("DROP TRIGGER refuse_day ON interest_accrual_entries")
        conn.execute("DROP FUNCTION refuse_day()")


def _three_accounts(book: Book) -> None:
    book.product("P", tiers=[("2020-01-01", "0", "3.65")])
    for account_id in (1, 2, 3):
        book.account(account_id, "P", {"2024-01-01": "1000"})


class TestAccrueCommand:
    def test_one_date_is_one_partitioned_run(self, book: Book, dagster_home: Path) -> None:
        _three_accounts(book)
        outcome = CliRunner().invoke(main, ["accrue", "--date", "2025-03-10"])
        assert outcome.exit_code == 0, outcome.output
        [run] = _runs(dagster_home)
        assert (run.job_name, run.tags["dagster/partition"], run.status) == (
            "daily_interest_accrual",
            "2025-03-10",
            dg.DagsterRunStatus.SUCCESS,
        )
        assert book.accruals("2025-03-10") == {a: Decimal("0.1000000000") for a in (1, 2, 3)}
        assert book.execution(run.run_id)["trigger"] == "MANUAL"
        assert (
            f"2025-03-10 daily_interest_accrual {run.run_id} SUCCESS: execution SUCCESS, 3 accounts"
            in outcome.output
        )

    def test_range_runs_each_date_in_order(self, book: Book, dagster_home: Path) -> None:
        _three_accounts(book)
        outcome = CliRunner().invoke(main, ["accrue", "--from", "2025-02-27", "--to", "2025-03-01"])
        assert outcome.exit_code == 0, outcome.output
        runs = _runs(dagster_home)
        assert [r.tags["dagster/partition"] for r in runs] == ["2025-02-27", "2025-02-28", "2025-03-01"]
        assert len(outcome.stdout.strip().splitlines()) == 3
        dates = book.conn.execute("SELECT DISTINCT accrual_date FROM interest_accruals ORDER BY 1").fetchall()
        assert [d for (d,) in dates] == [date(2025, 2, 27), date(2025, 2, 28), date(2025, 3, 1)]

    def test_options_become_run_config(self, book: Book, dagster_home: Path) -> None:
        _three_accounts(book)
        book.conn.execute("UPDATE accounts SET status = 'DORMANT' WHERE id = 3")
        outcome = CliRunner().invoke(
            main,
            [
                "accrue",
                "--date",
                "2025-03-10",
                "--account-id",
                "1",
                "--account-id",
                "3",
                "--include-dormant",
                "--batch-size",
                "1",
            ],
        )
        assert outcome.exit_code == 0, outcome.output
        [run] = _runs(dagster_home)
        row = book.execution(run.run_id)
        assert (row["account_ids"], row["include_dormant"], row["total_chunks"]) == ([1, 3], True, 2)
        assert set(book.accruals("2025-03-10")) == {1, 3}

    def test_failed_run_stops_the_range_and_exits_non_zero(self, book: Book, dagster_home: Path) -> None:
        _three_accounts(book)
        # A failure only the run meets (bad input is refused before any run: reliability tests).
        with refused_accruals(book.conn, "2025-03-01"):
            outcome = CliRunner().invoke(main, ["accrue", "--from", "2025-03-01", "--to", "2025-03-03"])
        assert outcome.exit_code != 0
        assert "accruals of 2025-03-01 refused" in outcome.output
        assert "2 later date(s) not run" in outcome.output
        [run] = _runs(dagster_home)
        assert (run.tags["dagster/partition"], run.status) == ("2025-03-01", dg.DagsterRunStatus.FAILURE)

    def test_date_and_range_together_are_refused(self, dagster_home: Path) -> None:
        outcome = CliRunner().invoke(main, ["accrue", "--date", "2025-03-01", "--from", "2025-03-01"])
        assert outcome.exit_code == 2
        assert "either --date or --from/--to" in outcome.output

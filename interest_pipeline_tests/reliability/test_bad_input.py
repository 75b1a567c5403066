"""Bad input is stopped at the edge: one `Error: ...` line, exit 2 for input and 1 for a failure,
no traceback, and nothing written anywhere (every table's rows, Dagster's runs, the databases)."""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql
from sqlalchemy.engine import URL

from interest_pipeline.cli import main
from interest_pipeline.settings import DAGSTER_DATABASE_URL_ENV, DATABASE_URL_ENV, libpq_url
from interest_pipeline_tests.accrual.book import Book

MISSING_DB = f"ip_missing_{uuid.uuid4().hex[:10]}"


@dataclass(frozen=True)
class Case:
    args: list[str]
    exit_code: int
    message: str
    env: tuple[tuple[str, str], ...] = ()


def env(**values: str) -> tuple[tuple[str, str], ...]:
    return tuple(values.items())


CASES: dict[str, Case] = {
    # accrue
    "accrue batch size 0": Case(["accrue", "--date", "2025-03-10", "--batch-size", "0"], 2,
                                "batch_size must be between 1 and 1000000, got 0"),
    "accrue batch size too big": Case(["accrue", "--date", "2025-03-10", "--batch-size", "2000000"], 2,
                                      "batch_size must be between 1 and 1000000, got 2000000"),
    "accrue negative account": Case(["accrue", "--date", "2025-03-10", "--account-id", "-5"], 2,
                                    "account_ids must be positive, got -5"),
    "accrue unknown account": Case(["accrue", "--date", "2025-03-10", "--account-id", "999999"], 2,
                                   "unknown account id(s): 999999"),
    "accrue unknown accounts named": Case(
        ["accrue", "--date", "2025-03-10", "--account-id", "1", "--account-id", "999998", "--account-id", "999999"],
        2, "unknown account id(s): 999998, 999999"),
    "accrue before partitions": Case(["accrue", "--date", "2019-12-31"], 2,
                                     "2019-12-31 is before the partitions' start 2020-01-01"),
    "accrue a day not ended": Case(["accrue", "--date", "2999-01-01"], 2, "2999-01-01 is not a business date that has ended"),
    "accrue bad date": Case(["accrue", "--date", "2025-13-01"], 2, "Invalid value for '--date'"),
    "accrue no date": Case(["accrue"], 2, "give --date D, or --from D1 --to D2"),
    "accrue date and range": Case(["accrue", "--date", "2025-03-10", "--from", "2025-03-01", "--to", "2025-03-02"], 2,
                                  "give either --date or --from/--to, not both"),
    "accrue range backwards": Case(["accrue", "--from", "2025-03-10", "--to", "2025-03-01"], 2,
                                   "--to 2025-03-01 is before --from 2025-03-10"),
    "accrue range reaching before partitions": Case(["accrue", "--from", "2019-12-30", "--to", "2020-01-02"], 2,
                                                    "2019-12-30 is before the partitions' start"),
    "accrue batch size not a number": Case(["accrue", "--date", "2025-03-10", "--batch-size", "ten"], 2,
                                           "Invalid value for '--batch-size'"),
    # post and run
    "post batch size 0": Case(["post", "--date", "2025-03-10", "--batch-size", "0"], 2,
                              "batch_size must be between 1 and 1000000, got 0"),
    "post unknown account": Case(["post", "--date", "2025-03-10", "--account-id", "424242"], 2,
                                 "unknown account id(s): 424242"),
    "post before partitions": Case(["post", "--date", "2019-06-30"], 2, "2019-06-30 is before the partitions' start"),
    "run negative batch size": Case(["run", "--from", "2025-03-01", "--to", "2025-03-02", "--batch-size", "-1"], 2,
                                    "batch_size must be between 1 and 1000000, got -1"),
    "run before partitions": Case(["run", "--from", "2019-12-31", "--to", "2020-01-01"], 2,
                                  "2019-12-31 is before the partitions' start"),
    # settings from the environment
    "step processes not a number": Case(["accrue", "--date", "2025-03-10"], 2,
                                        "INTEREST_STEP_PROCESSES must be a whole number from 1 to 256, got 'zero'",
                                        env(INTEREST_STEP_PROCESSES="zero")),
    "step processes 0": Case(["post", "--date", "2025-03-10"], 2,
                             "INTEREST_STEP_PROCESSES must be a whole number from 1 to 256, got '0'",
                             env(INTEREST_STEP_PROCESSES="0")),
    "unknown time zone": Case(["accrue", "--date", "2025-03-10"], 2,
                              "INTEREST_BUSINESS_TIMEZONE must be an IANA time zone such as UTC or Europe/Zurich, "
                              "got 'Mars/Olympus'", env(INTEREST_BUSINESS_TIMEZONE="Mars/Olympus")),
    "bad partitions start": Case(["accrue", "--date", "2025-03-10"], 2,
                                 "INTEREST_PARTITIONS_START must be a date as YYYY-MM-DD, got '2020-02-30'",
                                 env(INTEREST_PARTITIONS_START="2020-02-30")),
    "webhook not http": Case(["accrue", "--date", "2025-03-10"], 2,
                             "INTEREST_ALERT_WEBHOOK_URL must be an http:// or https:// URL, got 'ftp://x'",
                             env(INTEREST_ALERT_WEBHOOK_URL="ftp://x")),
    "smtp without recipients": Case(["post", "--date", "2025-03-10"], 2,
                                    "INTEREST_ALERT_EMAIL_TO must name at least one address when INTEREST_ALERT_SMTP_URL is set",
                                    env(INTEREST_ALERT_SMTP_URL="smtp://127.0.0.1:25")),
    "bad e-mail address": Case(["accrue", "--date", "2025-03-10"], 2,
                               "INTEREST_ALERT_EMAIL_TO must be comma-separated e-mail addresses, got 'ops'",
                               env(INTEREST_ALERT_SMTP_URL="smtp://127.0.0.1:25", INTEREST_ALERT_EMAIL_TO="ops")),
    "smtp url not smtp": Case(["db", "upgrade"], 2, "INTEREST_ALERT_SMTP_URL must be smtp://",
                              env(INTEREST_ALERT_SMTP_URL="mail.bank.test", INTEREST_ALERT_EMAIL_TO="a@b.test")),
    "database url not postgresql": Case(["db", "upgrade"], 2,
                                        "INTEREST_DAGSTER_DATABASE_URL must be a postgresql:// URL naming a database",
                                        env(INTEREST_DAGSTER_DATABASE_URL="mysql://h/db")),
    # databases
    "upgrade to an unknown revision": Case(["db", "upgrade", "--revision", "9999"], 2, "unknown revision '9999'"),
    "downgrade to an unknown revision": Case(["db", "downgrade", "--revision", "nope", "--yes"], 2,
                                             "unknown revision 'nope'"),
    "upgrade a missing database": Case(["db", "upgrade"], 1, f"database '{MISSING_DB}' does not exist"),
    "accrue into a missing database": Case(["accrue", "--date", "2025-03-10"], 1,
                                           f"database '{MISSING_DB}' does not exist"),
    "current of a missing database": Case(["db", "current"], 1, f"database '{MISSING_DB}' does not exist"),
    # other commands' arguments
    "generate no accounts": Case(["generate", "--accounts", "0", "--start", "2025-01-01"], 2,
                                 "Invalid value for '--accounts'"),
    "load an unknown kind": Case(["load", "ledgers", "x.csv"], 2, "'ledgers' is not one of 'products'"),
    "load a missing file": Case(["load", "accounts", "/nonexistent/accounts.csv"], 2, "does not exist"),
    "blocked bad account id": Case(["blocked", "--account-id", "abc"], 2, "Invalid value for '--account-id'"),
}  # fmt: skip

USES_MISSING_DB = {
    "upgrade a missing database",
    "accrue into a missing database",
    "current of a missing database",
}


@pytest.fixture
def dagster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv(DAGSTER_DATABASE_URL_ENV, "postgresql://unused.invalid/none")
    yield tmp_path


def _snapshot(conn: psycopg.Connection, home: Path) -> dict[str, object]:
    """Rows of every table of the application database, Dagster's runs, and the server's databases."""
    tables = [
        t
        for (t,) in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        ).fetchall()
    ]
    counts: dict[str, object] = {
        t: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t))).fetchone()[0]  # type: ignore[index]
        for t in tables
    }
    with dg.DagsterInstance.from_config(str(home)) as instance:
        counts["dagster runs"] = instance.get_runs_count()
    # Only this test's databases: other sessions create and drop theirs on the same server meanwhile.
    ours = conn.execute(
        "SELECT datname FROM pg_database WHERE datname LIKE current_database() || '%%' OR datname LIKE %s"
        " ORDER BY datname",
        (f"{MISSING_DB}%",),
    ).fetchall()
    counts["databases"] = [d for (d,) in ours]
    return counts


class TestBadInputWritesNothing:
    def test_there_are_at_least_25_cases(self) -> None:
        assert len(CASES) >= 25

    @pytest.mark.parametrize("name", list(CASES))
    def test_one_clear_line_the_right_exit_status_and_nothing_written(
        self,
        name: str,
        book: Book,
        conn: psycopg.Connection,
        clean_db: URL,
        dagster_home: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        case = CASES[name]
        for variable, value in case.env:
            monkeypatch.setenv(variable, value)
        if name in USES_MISSING_DB:
            monkeypatch.setenv(DATABASE_URL_ENV, libpq_url(clean_db.set(database=MISSING_DB)))
        tables_before = [
            t for t in conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        ]
        before = _snapshot(conn, dagster_home)

        outcome = CliRunner().invoke(main, case.args)

        assert outcome.exit_code == case.exit_code, outcome.output
        lines = outcome.stderr.strip().splitlines()
        assert len(lines) == 1, outcome.stderr
        assert lines[0].startswith("Error: ") and case.message in lines[0], lines[0]
        assert "Traceback" not in outcome.output
        assert _snapshot(conn, dagster_home) == before
        assert [
            t for t in conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        ] == tables_before
        assert MISSING_DB not in before["databases"]  # type: ignore[operator]

    def test_debug_shows_the_traceback_instead(self, book: Book, dagster_home: Path) -> None:
        outcome = CliRunner().invoke(main, ["--debug", "db", "upgrade", "--revision", "9999"])
        assert outcome.exit_code != 0
        assert outcome.exception is not None


class TestCsvLoadErrors:
    def test_a_bad_csv_is_refused_with_its_errors_and_nothing_loaded(
        self, book: Book, conn: psycopg.Connection, dagster_home: Path, tmp_path: Path
    ) -> None:
        bad = tmp_path / "products.csv"
        bad.write_text("product_code,product_name\nX,\n")
        before = _snapshot(conn, dagster_home)
        outcome = CliRunner().invoke(main, ["load", "products", str(bad)])
        assert outcome.exit_code == 1
        first = outcome.stderr.splitlines()[0]
        assert first == f"Error: {bad}: nothing loaded"
        assert "Traceback" not in outcome.output
        assert _snapshot(conn, dagster_home) == before

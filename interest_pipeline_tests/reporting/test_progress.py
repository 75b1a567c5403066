"""Progress of long commands: one plain line per date when the output is not a terminal (CI logs),
a rich bar with the same figures when it is."""

import io
import re
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from interest_pipeline import progress
from interest_pipeline.cli import main
from interest_pipeline.settings import DAGSTER_DATABASE_URL_ENV
from interest_pipeline_tests.posting.support import Book, product

PLAIN_LINE = re.compile(
    r"^\[(\d+)/(\d+)\] (\d{4}-\d\d-\d\d) (daily_interest_accrual|interest_posting) \S+ SUCCESS: .*; "
    r"(\d+) chunk\(s\), [\d,]+ accounts/s, \d+:\d\d:\d\d left$"
)


@pytest.fixture
def dagster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv(DAGSTER_DATABASE_URL_ENV, "postgresql://unused.invalid/none")
    yield tmp_path


@pytest.fixture
def book(conn: psycopg.Connection) -> Book:
    book = Book()
    facts = book.add_product(product("SAV", tax="15"))
    for account_id in (1, 2, 3):
        book.add_account(facts, account_id)
    book.write(conn)
    return book


class TestPlain:
    def test_accrue_prints_one_line_per_date_with_its_progress(self, book: Book, dagster_home: Path) -> None:
        out = CliRunner().invoke(main, ["accrue", "--from", "2025-01-29", "--to", "2025-01-31"])
        assert out.exit_code == 0, out.output
        lines = out.stdout.strip().splitlines()
        matches = [PLAIN_LINE.match(line) for line in lines]
        assert all(matches), lines
        assert [(m[1], m[2], m[3], m[5]) for m in matches if m] == [
            ("1", "3", "2025-01-29", "1"),
            ("2", "3", "2025-01-30", "1"),
            ("3", "3", "2025-01-31", "1"),
        ]
        assert "\x1b[" not in out.output  # no terminal control codes in a log

    def test_run_counts_a_date_done_when_its_posting_is(self, book: Book, dagster_home: Path) -> None:
        out = CliRunner().invoke(main, ["run", "--from", "2025-01-30", "--to", "2025-01-31"])
        assert out.exit_code == 0, out.output
        matches = [PLAIN_LINE.match(line) for line in out.stdout.strip().splitlines()]
        assert [(m[1], m[3], m[4]) for m in matches if m] == [
            ("0", "2025-01-30", "daily_interest_accrual"),
            ("1", "2025-01-30", "interest_posting"),
            ("1", "2025-01-31", "daily_interest_accrual"),
            ("2", "2025-01-31", "interest_posting"),
        ]

    def test_generate_and_load_report_each_tenth(self, conn: psycopg.Connection, tmp_path: Path) -> None:
        out = CliRunner().invoke(
            main, ["generate", "--accounts", "40", "--start", "2025-01-01", "--days", "3"]
        )
        assert out.exit_code == 0, out.output
        tenths = re.findall(r"^generate: ([\d,]+)/80 account rows \((\d+) %\)", out.stderr, re.M)
        assert tenths[-1] == ("80", "100")
        assert [int(p) for _, p in tenths] == sorted(int(p) for _, p in tenths)
        csv = tmp_path / "products.csv"
        csv.write_text(
            "code,account_type,day_count,posting_frequency,tier_mode,min_balance_for_interest,withholding_tax_rate\n"
            "NEW-1,SAVINGS,ACT/365F,MONTHLY,WHOLE,,0\nNEW-2,SAVINGS,ACT/360,MONTHLY,WHOLE,,0\n"
        )
        out = CliRunner().invoke(main, ["load", "products", str(csv)])
        assert out.exit_code == 0, out.output
        assert re.search(
            r"^load products: 2/2 rows \(100 %\), [\d,]+ rows/s, 0:00:00 left$", out.stderr, re.M
        )
        assert "loaded 2 rows into interest_products" in out.stdout


class TestInteractive:
    def test_a_terminal_gets_a_rich_bar_with_the_same_lines(
        self, book: Book, dagster_home: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(progress, "is_interactive", lambda stream: True)
        out = CliRunner().invoke(main, ["accrue", "--from", "2025-01-30", "--to", "2025-01-31"])
        assert out.exit_code == 0, out.output
        assert "\x1b[" in out.output  # drawn with terminal codes
        assert "2/2" in out.output and "━" in out.output
        assert "accounts/s" in out.output
        summaries = re.findall(
            r"(\d{4}-\d\d-\d\d) daily_interest_accrual \S+ SUCCESS: execution SUCCESS", out.output
        )
        assert summaries == ["2025-01-30", "2025-01-31"]
        assert not any(PLAIN_LINE.match(line) for line in out.output.splitlines())

    def test_the_tracker_draws_on_a_tty_and_writes_lines_elsewhere(self) -> None:
        class Tty(io.StringIO):
            def isatty(self) -> bool:
                return True

        tty, log = Tty(), io.StringIO()
        with progress.track(2, "demo", tty) as bar:
            bar.done("first", accounts=10, chunks=1)
            bar.done("second", accounts=10, chunks=1)
        with progress.track(2, "demo", log) as plain:
            plain.done("first", accounts=10, chunks=1)
        assert "first" in tty.getvalue() and "2/2" in tty.getvalue() and "\x1b[" in tty.getvalue()
        assert re.fullmatch(
            r"\[1/2\] first; 1 chunk\(s\), [\d,]+ accounts/s, \d+:\d\d:\d\d left\n", log.getvalue()
        )

    def test_counted_work_draws_a_bar_on_a_tty_and_tenths_elsewhere(self) -> None:
        class Tty(io.StringIO):
            def isatty(self) -> bool:
                return True

        tty, log = Tty(), io.StringIO()
        with progress.track(50, "generate", tty) as bar:
            counter = progress.CountProgress(bar, "rows")
            for _ in range(5):
                counter.update(10)
        assert "50/50" in tty.getvalue() and "50 rows" in tty.getvalue() and "━" in tty.getvalue()
        with progress.track(50, "generate", log) as plain:
            counter = progress.CountProgress(plain, "rows")
            for _ in range(5):
                counter.update(10)
        percents = re.findall(r"^generate: (\d+)/50 rows \((\d+) %\)", log.getvalue(), re.M)
        # each update of 10 rows is two tenths of 50: both are said, with the count reached
        assert percents == [(str(10 * (n // 2 + 1)), str(10 * (n + 1))) for n in range(10)]

"""The quickstart and summary commands, end to end on the run's database."""

from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from sqlalchemy.engine import URL

from interest_pipeline import settings
from interest_pipeline.cli import main
from interest_pipeline.settings import libpq_url


@pytest.fixture
def dagster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throwaway instance (SQLite storage is fine for this test; the CLI takes any DAGSTER_HOME)."""
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv(settings.DAGSTER_PG_URL_ENV, "unused://")
    return tmp_path


class TestQuickstart:
    def test_runs_the_pipeline_over_a_month_end_and_prints_the_summary(
        self, clean_db: URL, dagster_home: Path
    ) -> None:
        result = CliRunner().invoke(
            main, ["quickstart", "--accounts", "40", "--from", "2025-01-30", "--to", "2025-02-01"]
        )
        assert result.exit_code == 0, result.output
        # a small book: one ranged run over the three dates (--per-date: six runs)
        assert "6 date runs in 1 ranged Dagster run(s), all succeeded" in result.output
        for title in ("Accounts", "Accruals", "Postings", "Ledger", "Executions"):
            assert f"\n{title}\n" in result.output
        with psycopg.connect(libpq_url(clean_db)) as conn:
            executions = conn.execute(
                "SELECT job_type, business_date::text, status FROM interest_batch_execution"
                " ORDER BY business_date, job_type"
            ).fetchall()
            posted = conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE posting_date = '2025-01-31') FROM interest_postings"
            ).fetchone()
            unbalanced = conn.execute(
                "SELECT count(*) FROM (SELECT journal_key FROM ledger_entries GROUP BY journal_key"
                " HAVING sum(debit) <> sum(credit)) j"
            ).fetchone()
        assert executions == [
            (job, day, "SUCCESS")
            for day in ("2025-01-30", "2025-01-31", "2025-02-01")
            for job in ("daily_interest_accrual", "interest_posting")
        ]
        assert posted is not None and posted[0] > 0 and posted[0] == posted[1]  # month-end postings only
        assert unbalanced == (0,)

    def test_rejects_a_reversed_range_before_touching_the_database(self, clean_db: URL) -> None:
        result = CliRunner().invoke(main, ["quickstart", "--from", "2025-02-01", "--to", "2025-01-01"])
        assert result.exit_code == 2
        assert "before --from" in result.output


class TestSummary:
    def test_prints_exact_amounts(self, conn: psycopg.Connection) -> None:
        conn.execute(
            "INSERT INTO interest_products (code, account_type, day_count, posting_frequency, tier_mode)"
            " VALUES ('P', 'SAVINGS', 'ACT/365F', 'MONTHLY', 'WHOLE')"
        )
        conn.execute(
            "INSERT INTO accounts (id, account_number, product_code, currency, status, opened_on)"
            " VALUES (1, 'A1', 'P', 'USD', 'ACTIVE', '2025-01-01')"
        )
        conn.execute(
            "INSERT INTO interest_accruals (account_id, accrual_date, balance, amount)"
            " VALUES (1, '2025-01-01', 1000, 0.2739726027), (1, '2025-01-02', 1000, 0.2739726027)"
        )
        result = CliRunner().invoke(main, ["summary"])
        assert result.exit_code == 0, result.output
        assert "| USD        | 2      | 1          | 0.5479452054 |" in result.output

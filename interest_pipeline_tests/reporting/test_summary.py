"""reports.summary: the terminal summary's tables, as typed rows with exact values."""

from datetime import date

import psycopg

from interest_pipeline.batch.config import BatchRunConfig, load_job_config, merge_config
from interest_pipeline.batch.executions import ChunkTotals, close_execution, open_execution, record_chunk
from interest_pipeline.reports import summary
from interest_pipeline_tests.accrual.book import Book


def _book(conn: psycopg.Connection) -> None:
    book = Book(conn)
    book.product("SAV", tiers=[("2020-01-01", "0", "1.0")])
    book.account(1, "SAV")
    book.account(2, "SAV", status="DORMANT")
    book.account(3, "SAV", currency="JPY", status="CLOSED", closed_on="2025-12-31")
    # Written before posting 1 (write_seq), so capitalized by it; the others after it.
    conn.execute(
        "INSERT INTO interest_accruals (account_id, accrual_date, balance, amount)"
        " VALUES (1, '2026-01-30', 1000, 0.2739726027)"
    )
    conn.execute(
        "INSERT INTO interest_postings (account_id, posting_date, idempotency_key, currency, carry_in, accrued,"
        " gross, carry_out, tax, net, withholding_tax_rate, is_final, written_off, accrual_count, made_on)"
        " VALUES (1, '2026-01-31', 'INT-CAP-1-2026-01', 'USD', 0, 0.5479452054, 0.5500, -0.0020547946,"
        " 0.0500, 0.5000, 10, false, 0, 2, '2026-01-31'),"
        " (2, '2026-01-31', 'INT-CAP-2-2026-01', 'USD', 0, 0.1369863014, 0.1400, -0.0030136986, 0, 0.1400, 0, true,"
        " -0.0030136986, 1, '2026-01-31')"
    )
    conn.execute(
        "INSERT INTO interest_accruals (account_id, accrual_date, balance, amount) VALUES"
        " (1, '2026-01-31', 1000, 0.2739726027), (2, '2026-01-31', 500, 0.1369863014),"
        " (1, '2026-02-01', 1000, 0.2739726027)"
    )
    conn.execute(
        "INSERT INTO ledger_entries (journal_key, line_no, gl_account, account_id, debit, credit, currency,"
        " value_date) VALUES ('INT-CAP-1-2026-01', 1, 'INTEREST_EXPENSE', NULL, 0.5500, 0, 'USD', '2026-01-31'),"
        " ('INT-CAP-1-2026-01', 2, 'CUSTOMER', 1, 0, 0.5500, 'USD', '2026-01-31')"
    )
    config = merge_config(load_job_config(conn, "daily_interest_accrual"), BatchRunConfig())
    for execution_id, day, failed in (("a1", date(2026, 1, 30), 0), ("a2", date(2026, 1, 31), 1)):
        open_execution(
            conn,
            execution_id=execution_id,
            business_date=day,
            trigger="MANUAL",
            config=config,
            total_chunks=1,
        )
        record_chunk(
            conn, execution_id, ChunkTotals(processed=3, succeeded=2 - failed, skipped=1, failed=failed)
        )
        close_execution(conn, execution_id)


class TestSummary:
    def test_every_table_per_currency_or_job_and_status(self, conn: psycopg.Connection) -> None:
        _book(conn)

        tables = {t.title: t for t in summary(conn)}

        assert tables["Accounts"].rows == [("JPY", "1", "0", "0", "1"), ("USD", "2", "1", "1", "0")]
        assert tables["Accruals"].rows == [("USD", "4", "2", "0.9589041095", "1", "3")]
        assert tables["Postings"].rows == [
            ("USD", "2", "1", "0.6900", "0.0500", "0.6400", "-0.0030136986"),
        ]
        assert tables["Ledger"].rows == [("USD", "1", "2", "0.5500", "0.5500")]
        assert tables["Executions"].rows == [
            ("daily_interest_accrual", "PARTIAL", "1", "2026-01-31", "2026-01-31", "1", "1", "1"),
            ("daily_interest_accrual", "SUCCESS", "1", "2026-01-30", "2026-01-30", "2", "1", "0"),
        ]

    def test_a_date_range_bounds_the_dated_tables(self, conn: psycopg.Connection) -> None:
        _book(conn)

        tables = {t.title: t for t in summary(conn, date(2026, 1, 31), date(2026, 1, 31))}

        assert tables["Accounts"].rows == [("JPY", "1", "0", "0", "1"), ("USD", "2", "1", "1", "0")]
        assert tables["Accruals"].rows == [("USD", "2", "2", "0.4109589041", "0", "2")]
        assert [r[:3] for r in tables["Executions"].rows] == [("daily_interest_accrual", "PARTIAL", "1")]

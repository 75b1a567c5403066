"""`post --dry-run` writes nothing anywhere and predicts exactly what the real posting then writes."""

from datetime import date

import psycopg
import pytest
from click.testing import CliRunner

from interest_pipeline.cli import main
from interest_pipeline.posting.dry_run import dry_run_posting
from interest_pipeline.resources.ledger import PostgresLedgerResource
from interest_pipeline_tests.posting.support import (
    Book,
    accrue_days,
    days,
    db_ledger,
    db_postings,
    post_day,
    product,
)

JAN_1 = date(2025, 1, 1)
JAN_31 = date(2025, 1, 31)
BLOCKED = 3


@pytest.fixture
def book(conn: psycopg.Connection) -> Book:
    """Nine accounts in three currencies at 15 % tax; account 3's accrual of Jan 10 FAILED (blocked)."""
    book = Book()
    facts = book.add_product(product("SAV", tax="15"))
    for n in range(1, 10):
        book.add_account(facts, n, currency=["USD", "JPY", "KWD"][n % 3], balance=f"{1000 * n}.5000")
    book.write(conn)
    accrue_days(conn, book, days(JAN_1, date(2025, 1, 9)))
    accrue_days(conn, book, [date(2025, 1, 10)], fail=[BLOCKED])
    accrue_days(conn, book, days(date(2025, 1, 11), JAN_31))
    return book


def snapshot(conn: psycopg.Connection) -> dict[str, tuple[int, str]]:
    """Every table of the schema: its row count and a digest of its whole content."""
    tables = [
        t
        for (t,) in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        ).fetchall()
    ]
    result = {}
    for table in tables:
        [[count, digest]] = conn.execute(
            f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM \"{table}\" t"
        )
        result[table] = (count, digest)
    return result


def results(conn: psycopg.Connection) -> list[tuple[object, ...]]:
    return [
        tuple(r)
        for r in conn.execute(
            "SELECT account_id, business_date, status, reason FROM interest_batch_account_result"
            " WHERE job_type = 'interest_posting' ORDER BY account_id, business_date"
        )
    ]


def test_the_dry_run_writes_nothing_and_predicts_the_real_posting(
    conn: psycopg.Connection, book: Book
) -> None:
    before = snapshot(conn)
    assert before["interest_accrual_entries"][0] == 9 * 31 - 1
    prediction = dry_run_posting(conn, JAN_31, PostgresLedgerResource())
    assert snapshot(conn) == before

    assert len(prediction.postings) == 8
    assert [(r[0], r[2]) for r in prediction.blocked] == [(BLOCKED, "FAILED")]
    assert str(prediction.blocked[0][3]).startswith("INCOMPLETE_ACCRUALS: failed 2025-01-10")
    assert {c: t.accounts_posted for c, t in prediction.totals.items()} == {"JPY": 3, "KWD": 3, "USD": 2}

    real = post_day(conn, JAN_31)
    assert real.execution.accounts_succeeded == 8 and real.execution.accounts_failed == 1
    # the keys were not taken: the real run made every posting the dry run predicted, and only those
    assert db_postings(conn) == prediction.postings
    assert db_ledger(conn) == prediction.journal_lines
    assert results(conn) == prediction.results
    assert {c: (t.gross, t.tax, t.net) for c, t in real.totals.items()} == {
        c: (t.gross, t.tax, t.net) for c, t in prediction.totals.items()
    }


def test_a_dry_run_after_the_posting_predicts_nothing_new(conn: psycopg.Connection, book: Book) -> None:
    post_day(conn, JAN_31)
    before = snapshot(conn)
    prediction = dry_run_posting(conn, JAN_31, PostgresLedgerResource())
    assert snapshot(conn) == before
    assert prediction.postings == [] and prediction.journal_lines == []
    assert sorted({r[3] for r in prediction.results if r[2] == "SKIPPED"}) == ["ALREADY_POSTED"]


def test_the_command_prints_the_prediction_and_writes_nothing(conn: psycopg.Connection, book: Book) -> None:
    before = snapshot(conn)
    out = CliRunner().invoke(main, ["post", "--date", "2025-01-31", "--dry-run"])
    assert out.exit_code == 0, out.output
    assert snapshot(conn) == before
    assert "DRY RUN of the posting of 2025-01-31: nothing was written" in out.output
    assert "accounts due or owing: 9 (8 would be posted, 0 skipped, 1 blocked)" in out.output
    assert f"account {BLOCKED} due 2025-01-31: INCOMPLETE_ACCRUALS: failed 2025-01-10" in out.output
    assert "| USD        | 2          |" in out.output

    out = CliRunner().invoke(main, ["post", "--from", "2025-01-30", "--to", "2025-01-31", "--dry-run"])
    assert out.exit_code == 2 and "--dry-run goes with --date P" in out.output
    out = CliRunner().invoke(main, ["post", "--date", "2025-01-31", "--dry-run", "--batch-size", "0"])
    assert out.exit_code == 1 and "batch_size must be between 1" in out.output
    assert snapshot(conn) == before


def test_the_dry_run_plans_and_posts_with_the_jobs_settings(
    conn: psycopg.Connection, book: Book, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plan and the chunks run as the job runs them (no JIT, a chunk's work_mem): with the
    server's defaults every statement was JIT compiled anew. The session keeps its own settings."""
    from interest_pipeline.posting import sql

    conn.execute("SET jit = on")
    conn.execute("SET work_mem = '4MB'")
    conn.commit()
    seen: list[tuple[str, str]] = []
    plan_chunks = sql.plan_chunks

    def recording(c: psycopg.Connection, *args: object) -> object:
        seen.append(c.execute("SELECT current_setting('jit'), current_setting('work_mem')").fetchone())  # type: ignore[arg-type]
        return plan_chunks(c, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(sql, "plan_chunks", recording)
    prediction = dry_run_posting(conn, JAN_31, PostgresLedgerResource())
    assert len(prediction.postings) == 9 - 1
    assert seen == [("off", "64MB")]
    assert conn.execute("SELECT current_setting('jit'), current_setting('work_mem')").fetchone() == (
        "on",
        "4MB",
    )

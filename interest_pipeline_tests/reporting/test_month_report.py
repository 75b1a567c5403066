"""The month report equals the tables to the last digit, in every format, and draws its picture."""

import csv
import io
from decimal import Decimal
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from interest_pipeline.cli import main
from interest_pipeline.reporting.month import currency_totals, month_report
from interest_pipeline.reporting.plot import plot_month
from interest_pipeline_tests.reporting.conftest import MONTH_END, MONTH_START

Key = tuple[str, str]


def expected(conn: psycopg.Connection) -> dict[Key, dict[str, object]]:
    """The same figures straight from the tables, with queries of the test's own."""
    figures: dict[Key, dict[str, object]] = {}

    def put(sql: str, *names: str) -> None:
        for product, currency, *values in conn.execute(sql, {"lo": MONTH_START, "hi": MONTH_END}):
            row = figures.setdefault((product, currency.strip()), {})
            row.update(zip(names, values, strict=True))

    put(
        "SELECT product_code, currency, count(*) FROM accounts WHERE opened_on <= %(hi)s"
        " AND (closed_on IS NULL OR closed_on >= %(lo)s) GROUP BY 1, 2",
        "accounts",
    )
    put(
        "SELECT a.product_code, a.currency, count(*), sum(x.amount) FROM interest_accruals x"
        " JOIN accounts a ON a.id = x.account_id WHERE x.accrual_date BETWEEN %(lo)s AND %(hi)s GROUP BY 1, 2",
        "accruals",
        "accrued",
    )
    put(
        "SELECT a.product_code, p.currency, count(*), sum(p.gross), sum(p.tax), sum(p.net), sum(p.written_off)"
        " FROM interest_postings p JOIN accounts a ON a.id = p.account_id"
        " WHERE p.posting_date BETWEEN %(lo)s AND %(hi)s GROUP BY 1, 2",
        "postings",
        "gross",
        "tax",
        "net",
        "written_off",
    )
    # carry: each account's last posting up to the month's end, when it is not final
    put(
        "SELECT a.product_code, a.currency, sum(p.carry_out) FROM accounts a"
        " JOIN interest_postings p ON p.account_id = a.id AND p.id = (SELECT q.id FROM interest_postings q"
        "  WHERE q.account_id = a.id AND q.posting_date <= %(hi)s ORDER BY q.posting_date DESC, q.id DESC LIMIT 1)"
        " WHERE NOT p.is_final GROUP BY 1, 2",
        "carry_outstanding",
    )
    return figures


def report_rows(conn: psycopg.Connection) -> dict[Key, dict[str, object]]:
    frame = month_report(conn, MONTH_START, MONTH_END)
    return {(r["product"], r["currency"]): r for r in frame.to_dict("records")}


def test_the_reports_figures_equal_the_tables_to_the_last_digit(generated_month: psycopg.Connection) -> None:
    conn = generated_month
    rows, truth = report_rows(conn), expected(conn)
    assert set(rows) == set(truth)
    zero = Decimal(0)
    for key, want in truth.items():
        got = rows[key]
        assert got["accounts"] == want.get("accounts", 0), key
        assert got["accruals"] == want.get("accruals", 0), key
        for column in ("accrued", "gross", "tax", "net", "written_off", "carry_outstanding"):
            assert isinstance(got[column], Decimal), (key, column)
            # equal as numbers and as digits: the report keeps NUMERIC's scale
            assert got[column] == want.get(column, zero), (key, column)
            if column in want and want[column] is not None:
                assert f"{got[column]:f}" == f"{want[column]:f}", (key, column)
    # every amount of the month is in it, nothing more
    [[accrued, gross]] = conn.execute(
        "SELECT (SELECT sum(amount) FROM interest_accruals WHERE accrual_date BETWEEN %(lo)s AND %(hi)s),"
        "       (SELECT sum(gross) FROM interest_postings WHERE posting_date BETWEEN %(lo)s AND %(hi)s)",
        {"lo": MONTH_START, "hi": MONTH_END},
    )
    assert sum((r["accrued"] for r in rows.values()), Decimal(0)) == accrued
    assert sum((r["gross"] for r in rows.values()), Decimal(0)) == gross


def test_failures_and_skips_are_counted_by_reason(generated_month: psycopg.Connection) -> None:
    conn = generated_month
    frame = month_report(conn, MONTH_START, MONTH_END)
    truth = {
        (f"{'accrual' if job == 'daily_interest_accrual' else 'posting'} {status.lower()} {reason}"): n
        for job, status, reason, n in conn.execute(
            "SELECT job_type, status, split_part(reason, ':', 1), count(*) FROM interest_batch_account_result"
            " WHERE status <> 'SUCCESS' AND business_date BETWEEN %s AND %s GROUP BY 1, 2, 3",
            (MONTH_START, MONTH_END),
        )
    }
    assert truth  # the generated month has skips (below minimum balance, nothing to post, ...)
    assert {c: int(frame[c].sum()) for c in truth} == truth


def test_per_currency_totals_add_up_exactly(generated_month: psycopg.Connection) -> None:
    conn = generated_month
    totals = currency_totals(month_report(conn, MONTH_START, MONTH_END)).set_index("currency")
    for currency, tax, net in conn.execute(
        "SELECT currency, sum(tax), sum(net) FROM interest_postings WHERE posting_date BETWEEN %s AND %s GROUP BY 1",
        (MONTH_START, MONTH_END),
    ):
        assert (totals.loc[currency.strip(), "tax"], totals.loc[currency.strip(), "net"]) == (tax, net)


def test_the_command_writes_csv_parquet_and_the_plot(
    generated_month: psycopg.Connection, tmp_path: Path
) -> None:
    rows = report_rows(generated_month)
    runner = CliRunner()

    out = runner.invoke(main, ["report", "--month", "2025-01", "--format", "csv"])
    assert out.exit_code == 0, out.output
    parsed = list(csv.DictReader(io.StringIO(out.stdout)))
    assert len(parsed) == len(rows)
    for record in parsed:
        row = rows[(record["product"], record["currency"])]
        assert Decimal(record["accrued"]) == row["accrued"] and record["accrued"] == f"{row['accrued']:f}"
        assert record["gross"] == f"{row['gross']:f}"

    parquet = tmp_path / "jan.parquet"
    plot = tmp_path / "jan.png"
    out = runner.invoke(
        main,
        ["report", "--month", "2025-01", "--format", "parquet", "--out", str(parquet), "--plot", str(plot)],
    )
    assert out.exit_code == 0, out.output
    table = pq.read_table(parquet).to_pylist()
    assert {(r["product"], r["currency"]): r["net"] for r in table} == {k: r["net"] for k, r in rows.items()}
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {plot}" in out.output

    out = runner.invoke(main, ["report", "--month", "2025-01"])
    assert out.exit_code == 0, out.output
    [first] = [line for line in out.stdout.splitlines() if line.startswith("| FD-12M")][:1]
    assert f"{rows[('FD-12M', first.split('|')[2].strip())]['accrued']:f}" in first


def test_the_plot_has_a_panel_per_currency(generated_month: psycopg.Connection, tmp_path: Path) -> None:
    currencies = plot_month(generated_month, MONTH_START, MONTH_END, tmp_path / "p.png", "t")
    [[expected_currencies]] = generated_month.execute(
        "SELECT array_agg(DISTINCT a.currency ORDER BY a.currency) FROM interest_accruals x"
        " JOIN accounts a ON a.id = x.account_id WHERE x.accrual_date BETWEEN %s AND %s",
        (MONTH_START, MONTH_END),
    )
    assert currencies == [c.strip() for c in expected_currencies]


def test_bad_arguments_are_refused_before_anything_is_written(
    conn: psycopg.Connection, tmp_path: Path
) -> None:
    runner = CliRunner()
    out = runner.invoke(main, ["report", "--month", "2025-13", "--out", str(tmp_path / "x.csv")])
    assert out.exit_code == 2 and "--month must be YYYY-MM" in out.output
    out = runner.invoke(main, ["report", "--month", "2025-01", "--format", "parquet"])
    assert out.exit_code == 2 and "--format parquet needs --out PATH" in out.output
    out = runner.invoke(main, ["report", "--month", "2025-01", "--plot", str(tmp_path / "x.jpg")])
    assert out.exit_code == 2 and "must end in .png" in out.output
    assert list(tmp_path.iterdir()) == []


def test_the_month_is_read_without_jit_and_the_session_keeps_its_settings(
    generated_month: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both callers (the month job and `report --month`) get the same reads: JIT off while the
    month's aggregates run (the CLI ran them at the server's default), the session's own after."""
    from interest_pipeline.reporting import sql as report_sql

    conn = generated_month
    conn.execute("SET jit = on")
    seen: list[str] = []
    figures, outcomes = report_sql.month_figures, report_sql.month_outcomes

    def recording(read):  # type: ignore[no-untyped-def]
        def wrapped(c: psycopg.Connection, *args: object) -> object:
            seen.append(c.execute("SELECT current_setting('jit')").fetchone()[0])  # type: ignore[index]
            return read(c, *args)

        return wrapped

    monkeypatch.setattr(report_sql, "month_figures", recording(figures))
    monkeypatch.setattr(report_sql, "month_outcomes", recording(outcomes))
    frame = month_report(conn, MONTH_START, MONTH_END)
    assert {(r["product"], r["currency"]) for r in frame.to_dict("records")} == set(expected(conn))
    assert seen == ["off", "off"]
    assert conn.execute("SELECT current_setting('jit')").fetchone() == ("on",)

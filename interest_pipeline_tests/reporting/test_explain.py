"""`explain` equals the stored figures: every accrual of a date of a generated month (all products,
day counts and tier modes), and every posting of its month end with its accruals and journal."""

from datetime import date
from decimal import Decimal
from fractions import Fraction

import psycopg
from click.testing import CliRunner

from interest_pipeline.cli import main
from interest_pipeline.reporting.explain import explain
from interest_pipeline_tests.reporting.conftest import MONTH_END

MID_MONTH = date(2025, 1, 15)


def test_every_accrual_of_a_date_is_explained_to_its_stored_amount(
    generated_month: psycopg.Connection,
) -> None:
    conn = generated_month
    stored = conn.execute(
        "SELECT x.account_id, x.balance, x.amount, p.day_count, p.tier_mode FROM interest_accruals x"
        " JOIN accounts a ON a.id = x.account_id JOIN interest_products p ON p.code = a.product_code"
        " WHERE x.accrual_date = %s ORDER BY 1",
        (MID_MONTH,),
    ).fetchall()
    assert len({(r[3], r[4]) for r in stored}) >= 4  # several day counts and tier modes
    for account_id, balance, amount, day_count, _ in stored:
        a = explain(conn, account_id, MID_MONTH).accrual
        assert a is not None
        assert (a.balance, a.amount, a.stored_amount) == (balance, amount, amount), account_id
        assert a.day_count == day_count
        # the parts multiply out to the exact amount, and rounding moved it by at most half a unit
        yearly = sum((Fraction(b.covered) * Fraction(b.annual_rate) / 100 for b in a.bands), Fraction(0))
        assert yearly == Fraction(a.yearly_interest)
        assert a.exact == yearly * Fraction(a.days, a.basis)
        assert abs(a.rounding) <= Fraction(1, 2 * 10**10)
        assert sum((b.covered for b in a.bands), Decimal(0)) == balance or a.rate_source != "BANDED tier(s)"


def test_every_month_end_posting_is_explained_to_its_stored_rows(generated_month: psycopg.Connection) -> None:
    conn = generated_month
    postings = conn.execute(
        "SELECT account_id, idempotency_key, carry_in, accrued, gross, carry_out, tax, net, accrual_count"
        " FROM interest_postings WHERE posting_date = %s ORDER BY 1",
        (MONTH_END,),
    ).fetchall()
    assert len(postings) > 20
    for account_id, key, carry_in, accrued, gross, carry_out, tax, net, count in postings:
        p = explain(conn, account_id, MONTH_END).posting
        assert p is not None
        assert (p.idempotency_key, p.carry_in, p.accrued, p.gross, p.carry_out, p.tax, p.net) == (
            key,
            carry_in,
            accrued,
            gross,
            carry_out,
            tax,
            net,
        )
        assert len(p.accruals) == count and sum((x[2] for x in p.accruals), Decimal(0)) == accrued
        journal = conn.execute(
            "SELECT line_no, gl_account, account_id, debit, credit FROM ledger_entries WHERE journal_key = %s"
            " ORDER BY line_no",
            (key,),
        ).fetchall()
        assert p.journal == [tuple(r) for r in journal]


def test_the_command_prints_the_figures(generated_month: psycopg.Connection) -> None:
    conn = generated_month
    [[account_id, gross, amount, balance]] = conn.execute(
        "SELECT p.account_id, p.gross, x.amount, x.balance FROM interest_postings p"
        " JOIN interest_accruals x ON x.account_id = p.account_id AND x.accrual_date = p.posting_date"
        " WHERE p.posting_date = %s ORDER BY p.account_id LIMIT 1",
        (MONTH_END,),
    )
    out = CliRunner().invoke(main, ["explain", "--account", str(account_id), "--date", MONTH_END.isoformat()])
    assert out.exit_code == 0, out.output
    assert f"balance used      {balance:f}" in out.output
    assert f"stored amount     {amount:f} (equals the recomputed one)" in out.output
    assert f"gross             {gross:f}" in out.output
    assert "journal line 1 INTEREST_EXPENSE" in out.output

    out = CliRunner().invoke(main, ["explain", "--account", "987654321", "--date", "2025-01-31"])
    assert out.exit_code == 1 and "no account with id 987654321" in out.output

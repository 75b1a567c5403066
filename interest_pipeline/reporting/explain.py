"""`explain`: everything a customer complaint about one account and date needs, from the stored rows.

The accrual is recomputed with the domain core (the oracle the SQL is tested against) from the
balance the accrual row stored, so what is shown is how the stored amount came about, and any
difference between the two is shown rather than hidden.
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction

import psycopg

from interest_pipeline.domain import (
    ACCRUAL_PLACES,
    DayCount,
    Tier,
    TierMode,
    night_basis,
    night_day_count,
    round_half_even,
    schedule_in_force,
)
from interest_pipeline.domain.rates import yearly_interest
from interest_pipeline.reporting import sql


class ExplainError(LookupError):
    """No such account: one clear message."""


@dataclass(frozen=True)
class Band:
    """One tier that applies: the part of the balance it covers and its rate (percent a year)."""

    min_balance: Decimal
    covered: Decimal
    annual_rate: Decimal


@dataclass(frozen=True)
class AccrualExplanation:
    balance: Decimal
    rate_source: str  # "rate_override", "WHOLE tier", "BANDED tiers"
    bands: list[Band]
    yearly_interest: Decimal
    day_count: str
    days: int
    basis: int
    exact: Fraction
    amount: Decimal  # the domain's round_half_even(exact, 10)
    stored_amount: Decimal
    status: str
    posting_id: int | None

    @property
    def rounding(self) -> Fraction:
        """What rounding added (positive) or removed (negative)."""
        return Fraction(self.amount) - self.exact


@dataclass(frozen=True)
class PostingExplanation:
    idempotency_key: str
    posting_date: date
    made_on: date
    currency: str
    accruals: list[tuple[date, Decimal, Decimal]]  # (date, balance, amount)
    accrued: Decimal
    carry_in: Decimal
    gross: Decimal
    carry_out: Decimal
    withholding_tax_rate: Decimal
    tax: Decimal
    net: Decimal
    is_final: bool
    written_off: Decimal
    journal: list[tuple[int, str, int | None, Decimal, Decimal]]  # (line, gl, account, debit, credit)


@dataclass(frozen=True)
class Explanation:
    account_id: int
    account_number: str
    product: str
    currency: str
    day: date
    accrual: AccrualExplanation | None
    # job -> (status, reason, amount): what each job's latest run recorded for the date
    results: dict[str, tuple[str, str | None, Decimal | None]] = field(default_factory=dict)
    posting: PostingExplanation | None = None


def _bands(balance: Decimal, mode: TierMode, schedule: tuple[Tier, ...]) -> list[Band]:
    ordered = sorted(schedule, key=lambda t: t.min_balance)
    applicable = [t for t in ordered if t.min_balance <= balance]
    if mode is TierMode.WHOLE:
        highest = applicable[-1:] if applicable else []
        return [Band(t.min_balance, balance, t.annual_rate) for t in highest]
    bands = []
    for tier, upper in zip(ordered, [*[t.min_balance for t in ordered[1:]], None], strict=True):
        if tier.min_balance >= balance:
            break
        top = balance if upper is None else min(balance, upper)
        bands.append(Band(tier.min_balance, top - tier.min_balance, tier.annual_rate))
    return bands


def explain(conn: psycopg.Connection, account_id: int, day: date) -> Explanation:
    account = sql.one(conn, sql.ACCOUNT_SQL, {"account_id": account_id})
    if account is None:
        raise ExplainError(f"no account with id {account_id}")
    (_, number, currency, _, _, _, _, rate_override, product, _, day_count, tier_mode, _, _, _, _) = account
    currency = currency.strip()
    tiers = [Tier(*row) for row in sql.many(conn, sql.TIERS_SQL, {"product": product})]
    params = {"account_id": account_id, "day": day}
    results = {
        job: (status, reason, amount)
        for job, status, reason, amount, _ in sql.many(conn, sql.RESULTS_SQL, params)
    }
    accrual = None
    row = sql.one(conn, sql.ACCRUAL_SQL, params)
    if row is not None:
        balance, stored, status, posting_id, _, _ = row
        convention, mode = DayCount(day_count), TierMode(tier_mode)
        schedule = schedule_in_force(tiers, day)
        yearly = yearly_interest(balance, mode, schedule, rate_override)
        days, basis = night_day_count(convention, day), night_basis(convention, day)
        exact = Fraction(yearly if yearly is not None else 0) * Fraction(days, basis)
        accrual = AccrualExplanation(
            balance=balance,
            rate_source="rate_override" if rate_override is not None else f"{mode.value} tier(s)",
            bands=(
                [Band(Decimal(0), balance, rate_override)]
                if rate_override is not None
                else _bands(balance, mode, schedule)
            ),
            yearly_interest=yearly if yearly is not None else Decimal(0),
            day_count=convention.value,
            days=days,
            basis=basis,
            exact=exact,
            amount=round_half_even(exact, ACCRUAL_PLACES),
            stored_amount=stored,
            status=status,
            posting_id=posting_id,
        )
    return Explanation(
        account_id, number, product, currency, day, accrual, results, _posting(conn, account_id, day)
    )


def _posting(conn: psycopg.Connection, account_id: int, day: date) -> PostingExplanation | None:
    row = sql.one(conn, sql.POSTING_SQL, {"account_id": account_id, "day": day})
    if row is None:
        return None
    (posting_id, key, posting_date, made_on, currency, carry_in, accrued, gross, carry_out, tax, net,
     rate, is_final, written_off, *_) = row  # fmt: skip
    return PostingExplanation(
        idempotency_key=key,
        posting_date=posting_date,
        made_on=made_on,
        currency=currency.strip(),
        accruals=[tuple(r) for r in sql.many(conn, sql.CAPITALIZED_SQL, {"posting_id": posting_id})],  # type: ignore[misc]
        accrued=accrued,
        carry_in=carry_in,
        gross=gross,
        carry_out=carry_out,
        withholding_tax_rate=rate,
        tax=tax,
        net=net,
        is_final=is_final,
        written_off=written_off,
        journal=[tuple(r[:5]) for r in sql.many(conn, sql.JOURNAL_SQL, {"key": key})],  # type: ignore[misc]
    )


def _f(value: Decimal) -> str:
    return f"{value:f}"


def render(e: Explanation) -> str:
    """The explanation as lines for a person; every amount exact."""
    lines = [f"account {e.account_id} ({e.account_number}), product {e.product}, {e.currency}, date {e.day}"]
    for job, (status, reason, amount) in sorted(e.results.items()):
        extra = f" {reason}" if reason else ""
        lines.append(f"  {job}: {status}{extra}" + (f", amount {_f(amount)}" if amount is not None else ""))
    a = e.accrual
    if a is None:
        lines.append("accrual: none stored for this date")
    else:
        lines.append(f"accrual ({a.status}{f', posting {a.posting_id}' if a.posting_id else ''})")
        lines.append(f"  balance used      {_f(a.balance)}")
        lines.append(f"  rate from         {a.rate_source}")
        for band in a.bands:
            lines.append(
                f"    from {_f(band.min_balance)}: {_f(band.covered)} at {_f(band.annual_rate)} % a year"
            )
        lines.append(f"  interest a year   {_f(a.yearly_interest)}")
        lines.append(f"  day count         {a.day_count}: {a.days}/{a.basis} of a year")
        lines.append(f"  exact amount      {a.exact.numerator}/{a.exact.denominator}")
        sign = "+" if a.rounding >= 0 else "-"
        lines.append(
            f"  rounded (HALF_EVEN, {ACCRUAL_PLACES} places) {_f(a.amount)}"
            f" (rounding {sign}{abs(a.rounding.numerator)}/{a.rounding.denominator})"
        )
        same = "equals" if a.amount == a.stored_amount else "DIFFERS FROM"
        lines.append(f"  stored amount     {_f(a.stored_amount)} ({same} the recomputed one)")
    p = e.posting
    if p is not None:
        lines.append(f"posting {p.idempotency_key} of {p.posting_date} (made on {p.made_on})")
        lines.append(f"  accruals          {len(p.accruals)}, summing {_f(p.accrued)}")
        for d, balance, amount in p.accruals:
            lines.append(f"    {d} balance {_f(balance)} accrued {_f(amount)}")
        lines.append(f"  carry in          {_f(p.carry_in)}")
        lines.append(f"  gross             {_f(p.gross)}")
        lines.append(f"  carry out         {_f(p.carry_out)}{' (written off: final)' if p.is_final else ''}")
        lines.append(f"  tax               {_f(p.tax)} at {_f(p.withholding_tax_rate)} %")
        lines.append(f"  net               {_f(p.net)}")
        for line_no, gl, account, debit, credit in p.journal:
            lines.append(
                f"  journal line {line_no} {gl} {account or ''} debit {_f(debit)} credit {_f(credit)}"
            )
    return "\n".join(lines)

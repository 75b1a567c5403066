"""Posting (capitalization) arithmetic and its ledger journal (spec §3)."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from functools import reduce

from interest_pipeline.domain.accrual import ACCRUAL_PLACES
from interest_pipeline.domain.rounding import EXACT, quantize_exact, round_half_even

GL_INTEREST_EXPENSE = "INTEREST_EXPENSE"
GL_CUSTOMER_DEPOSITS = "CUSTOMER_DEPOSITS"
GL_WITHHOLDING_TAX = "WITHHOLDING_TAX_PAYABLE"

CARRY_PLACES = ACCRUAL_PLACES


def idempotency_key(account_id: int, p: date) -> str:
    return f"INT-CAP-{account_id}-{p:%Y-%m}"


@dataclass(frozen=True)
class JournalLine:
    journal_key: str
    line_no: int
    gl_account: str
    account_id: int | None
    debit: Decimal
    credit: Decimal
    currency: str
    value_date: date


@dataclass(frozen=True)
class Posting:
    account_id: int
    posting_date: date
    idempotency_key: str
    currency: str
    carry_in: Decimal
    accrued: Decimal
    gross: Decimal
    carry_out: Decimal
    tax: Decimal
    net: Decimal
    is_final: bool
    written_off: Decimal
    journal: tuple[JournalLine, ...]


def journal_lines(
    *, key: str, account_id: int, currency: str, value_date: date, gross: Decimal, tax: Decimal, net: Decimal
) -> tuple[JournalLine, ...]:
    """Balanced lines: expense debited gross, customer credited net, tax payable credited tax.

    Line numbers name the role (1 expense, 2 customer, 3 tax), and a line whose amount would be
    zero is left out, as a ledger line moves money on one side: 100 % tax has lines 1 and 3.
    """
    if gross == 0:
        return ()
    zero = EXACT.subtract(gross, gross)

    def line(
        line_no: int, gl_account: str, owner: int | None, debit: Decimal, credit: Decimal
    ) -> JournalLine:
        return JournalLine(key, line_no, gl_account, owner, debit, credit, currency, value_date)

    lines = [line(1, GL_INTEREST_EXPENSE, None, gross, zero)]
    if net > 0:
        lines.append(line(2, GL_CUSTOMER_DEPOSITS, account_id, zero, net))
    if tax > 0:
        lines.append(line(3, GL_WITHHOLDING_TAX, None, zero, tax))
    return tuple(lines)


def compute_posting(
    *,
    account_id: int,
    posting_date: date,
    currency: str,
    minor_units: int,
    carry_in: Decimal,
    accrual_amounts: Iterable[Decimal],
    withholding_tax_rate: Decimal,
    is_final: bool,
) -> Posting | None:
    """The posting that capitalizes `accrual_amounts`; None when there is nothing to capitalize.

    Carries and accrual amounts have at most 10 decimals (NUMERIC(28,10)); more raises ValueError.
    """
    amounts = list(accrual_amounts)
    if not amounts:
        return None
    carry_in = quantize_exact(carry_in, CARRY_PLACES)
    accrued = quantize_exact(reduce(EXACT.add, amounts, Decimal(0)), CARRY_PLACES)
    total = EXACT.add(carry_in, accrued)
    gross = round_half_even(total, minor_units)
    if gross < 0:
        raise ValueError(f"negative gross {gross} for account {account_id} on {posting_date}")
    carry_out = quantize_exact(EXACT.subtract(total, gross), CARRY_PLACES)
    tax = round_half_even(Fraction(gross) * Fraction(withholding_tax_rate) / 100, minor_units)
    net = EXACT.subtract(gross, tax)
    key = idempotency_key(account_id, posting_date)
    return Posting(
        account_id=account_id,
        posting_date=posting_date,
        idempotency_key=key,
        currency=currency,
        carry_in=carry_in,
        accrued=accrued,
        gross=gross,
        carry_out=carry_out,
        tax=tax,
        net=net,
        is_final=is_final,
        written_off=carry_out if is_final else round_half_even(0, CARRY_PLACES),
        journal=journal_lines(
            key=key,
            account_id=account_id,
            currency=currency,
            value_date=posting_date,
            gross=gross,
            tax=tax,
            net=net,
        ),
    )

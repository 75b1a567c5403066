from datetime import date
from decimal import Decimal

import pytest

from interest_pipeline.domain import (
    GL_CUSTOMER_DEPOSITS,
    GL_INTEREST_EXPENSE,
    GL_WITHHOLDING_TAX,
    JournalLine,
    Posting,
    compute_posting,
    idempotency_key,
)

P = date(2025, 1, 31)
JANUARY = [Decimal("0.2739726027")] * 31
ZERO_CARRY = Decimal("0E-10")


def _post(
    amounts: list[Decimal],
    *,
    minor_units: int = 2,
    currency: str = "USD",
    carry_in: Decimal = ZERO_CARRY,
    tax_rate: str = "0",
    is_final: bool = False,
) -> Posting:
    posting = compute_posting(
        account_id=42,
        posting_date=P,
        currency=currency,
        minor_units=minor_units,
        carry_in=carry_in,
        accrual_amounts=amounts,
        withholding_tax_rate=Decimal(tax_rate),
        is_final=is_final,
    )
    assert posting is not None
    return posting


class TestIdempotencyKey:
    @pytest.mark.parametrize(
        ("account_id", "p", "expected"),
        [
            (42, date(2025, 1, 31), "INT-CAP-42-2025-01"),
            (1, date(2024, 12, 15), "INT-CAP-1-2024-12"),
            (9_000_000_001, date(2030, 2, 28), "INT-CAP-9000000001-2030-02"),
        ],
    )
    def test_format(self, account_id: int, p: date, expected: str) -> None:
        assert idempotency_key(account_id, p) == expected


class TestSpecJanuaryExample:
    def test_amounts(self) -> None:
        posting = _post(JANUARY, tax_rate="15")
        assert (posting.accrued, posting.gross, posting.carry_out, posting.tax, posting.net) == (
            Decimal("8.4931506837"),
            Decimal("8.49"),
            Decimal("0.0031506837"),
            Decimal("1.27"),
            Decimal("7.22"),
        )

    def test_journal(self) -> None:
        key = "INT-CAP-42-2025-01"
        zero = Decimal("0.00")
        assert _post(JANUARY, tax_rate="15").journal == (
            JournalLine(key, 1, GL_INTEREST_EXPENSE, None, Decimal("8.49"), zero, "USD", P),
            JournalLine(key, 2, GL_CUSTOMER_DEPOSITS, 42, zero, Decimal("7.22"), "USD", P),
            JournalLine(key, 3, GL_WITHHOLDING_TAX, None, zero, Decimal("1.27"), "USD", P),
        )

    def test_identity(self) -> None:
        posting = _post(JANUARY)
        assert (posting.account_id, posting.posting_date, posting.idempotency_key, posting.currency) == (
            42,
            P,
            "INT-CAP-42-2025-01",
            "USD",
        )


class TestMinorUnits:
    @pytest.mark.parametrize(
        ("currency", "minor_units", "gross", "carry_out"),
        [
            ("JPY", 0, "8", "0.4931506837"),
            ("USD", 2, "8.49", "0.0031506837"),
            ("KWD", 3, "8.493", "0.0001506837"),
        ],
    )
    def test_gross_rounded_to_currency_digits(
        self, currency: str, minor_units: int, gross: str, carry_out: str
    ) -> None:
        posting = _post(JANUARY, currency=currency, minor_units=minor_units)
        assert (f"{posting.gross:f}", f"{posting.carry_out:f}") == (gross, carry_out)

    @pytest.mark.parametrize(
        ("minor_units", "tax", "net"),
        [(0, "1", "7"), (2, "1.27", "7.22"), (3, "1.274", "7.219")],
    )
    def test_tax_and_net_rounded_to_currency_digits(self, minor_units: int, tax: str, net: str) -> None:
        posting = _post(JANUARY, minor_units=minor_units, tax_rate="15")
        assert (f"{posting.tax:f}", f"{posting.net:f}") == (tax, net)

    @pytest.mark.parametrize("minor_units", [0, 2, 3])
    def test_money_has_exactly_the_currency_digits(self, minor_units: int) -> None:
        posting = _post(JANUARY, minor_units=minor_units, tax_rate="15")
        for money in (posting.gross, posting.tax, posting.net):
            assert money.as_tuple().exponent == -minor_units

    @pytest.mark.parametrize("minor_units", [0, 2, 3])
    def test_carries_have_ten_decimals(self, minor_units: int) -> None:
        posting = _post(JANUARY, minor_units=minor_units)
        assert posting.carry_in.as_tuple().exponent == posting.carry_out.as_tuple().exponent == -10


class TestCarry:
    def test_carry_in_joins_the_sum(self) -> None:
        posting = _post([Decimal("0.0030000000")], carry_in=Decimal("0.0031506837"))
        assert (posting.gross, posting.carry_out) == (Decimal("0.01"), Decimal("-0.0038493163"))

    def test_half_even_carry_can_be_negative(self) -> None:
        posting = _post([Decimal("0.0060000000")])
        assert (posting.gross, posting.carry_out) == (Decimal("0.01"), Decimal("-0.0040000000"))

    @pytest.mark.parametrize(
        ("is_final", "written_off"),
        [(True, Decimal("0.0031506837")), (False, Decimal(0))],
    )
    def test_final_posting_writes_off_carry(self, is_final: bool, written_off: Decimal) -> None:
        posting = _post(JANUARY, is_final=is_final)
        assert (posting.is_final, posting.written_off, posting.carry_out) == (
            is_final,
            written_off,
            Decimal("0.0031506837"),
        )

    def test_rejects_more_than_ten_decimals(self) -> None:
        with pytest.raises(ValueError, match="decimals"):
            _post([Decimal("0.00000000001")])


class TestJournal:
    @pytest.mark.parametrize("minor_units", [0, 2, 3])
    def test_zero_gross_has_no_journal(self, minor_units: int) -> None:
        posting = _post([Decimal("0.0001000000")], minor_units=minor_units, tax_rate="15")
        assert (posting.gross, posting.journal) == (Decimal(0), ())

    def test_zero_tax_gives_two_lines(self) -> None:
        journal = _post(JANUARY).journal
        assert [(line.line_no, line.gl_account) for line in journal] == [
            (1, GL_INTEREST_EXPENSE),
            (2, GL_CUSTOMER_DEPOSITS),
        ]

    def test_tax_rounding_to_zero_gives_two_lines(self) -> None:
        posting = _post([Decimal("0.0100000000")], tax_rate="15")
        assert (posting.tax, len(posting.journal)) == (Decimal("0.00"), 2)

    def test_only_customer_line_names_the_account(self) -> None:
        journal = _post(JANUARY, tax_rate="15").journal
        assert [line.account_id for line in journal] == [None, 42, None]

    def test_full_tax_leaves_out_the_zero_customer_line(self) -> None:
        journal = _post(JANUARY, tax_rate="100").journal
        assert [(line.line_no, line.gl_account, line.debit, line.credit) for line in journal] == [
            (1, GL_INTEREST_EXPENSE, Decimal("8.49"), Decimal("0.00")),
            (3, "WITHHOLDING_TAX_PAYABLE", Decimal("0.00"), Decimal("8.49")),
        ]

    @pytest.mark.parametrize("tax_rate", ["0", "15", "33.333333", "100"])
    def test_every_line_moves_money_on_one_side(self, tax_rate: str) -> None:
        journal = _post(JANUARY, tax_rate=tax_rate).journal
        assert all((line.debit > 0) != (line.credit > 0) for line in journal)

    @pytest.mark.parametrize("tax_rate", ["0", "15", "33.333333", "100"])
    def test_balances(self, tax_rate: str) -> None:
        journal = _post(JANUARY, tax_rate=tax_rate).journal
        assert sum(line.debit for line in journal) == sum(line.credit for line in journal)


class TestNothingToPost:
    def test_no_accruals_gives_none(self) -> None:
        posting = compute_posting(
            account_id=1,
            posting_date=P,
            currency="USD",
            minor_units=2,
            carry_in=Decimal("0.0031506837"),
            accrual_amounts=[],
            withholding_tax_rate=Decimal(0),
            is_final=True,
        )
        assert posting is None

    def test_accepts_any_iterable(self) -> None:
        assert _post(list(iter(JANUARY))).accrued == Decimal("8.4931506837")

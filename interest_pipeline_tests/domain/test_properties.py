from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from interest_pipeline.domain import (
    DayCount,
    Posting,
    Tier,
    TierMode,
    compute_posting,
    night_fraction,
    round_half_even,
    year_fraction,
    yearly_interest,
)

_EPOCH = date(2025, 1, 1)

balances = st.integers(min_value=1, max_value=10**13).map(lambda n: Decimal(n).scaleb(-4))
rates = st.integers(min_value=0, max_value=20_000_000).map(lambda n: Decimal(n).scaleb(-6))
accrual_amounts = st.integers(min_value=0, max_value=10**12).map(lambda n: Decimal(n).scaleb(-10))
tax_rates = st.integers(min_value=0, max_value=100_000_000).map(lambda n: Decimal(n).scaleb(-6))
minor_units = st.sampled_from([0, 2, 3])


@st.composite
def rising_schedules(draw: st.DrawFn) -> tuple[Tier, ...]:
    thresholds = draw(st.lists(st.integers(min_value=1, max_value=10**9), max_size=5, unique=True))
    mins = [Decimal(0), *sorted(Decimal(t).scaleb(-2) for t in thresholds)]
    rate_steps = sorted(draw(st.lists(rates, min_size=len(mins), max_size=len(mins))))
    return tuple(Tier(_EPOCH, m, r) for m, r in zip(mins, rate_steps, strict=True))


@st.composite
def split_accruals(draw: st.DrawFn) -> list[list[Decimal]]:
    amounts = draw(st.lists(accrual_amounts, min_size=1, max_size=120))
    cuts = sorted(
        draw(st.sets(st.integers(min_value=1, max_value=len(amounts)), max_size=12)) | {len(amounts)}
    )
    periods, previous = [], 0
    for cut in cuts:
        periods.append(amounts[previous:cut])
        previous = cut
    return periods


def _chain(periods: list[list[Decimal]], digits: int, tax_rate: Decimal) -> list[Posting]:
    postings: list[Posting] = []
    carry = Decimal("0E-10")
    for index, amounts in enumerate(periods):
        posting = compute_posting(
            account_id=7,
            posting_date=_EPOCH + timedelta(days=31 * index),
            currency="XXX",
            minor_units=digits,
            carry_in=carry,
            accrual_amounts=amounts,
            withholding_tax_rate=tax_rate,
            is_final=index == len(periods) - 1,
        )
        assert posting is not None
        postings.append(posting)
        carry = posting.carry_out
    return postings


class TestTierProperties:
    @given(balance=balances, schedule=rising_schedules())
    def test_banded_never_exceeds_whole_when_rates_rise(
        self, balance: Decimal, schedule: tuple[Tier, ...]
    ) -> None:
        banded = yearly_interest(balance, TierMode.BANDED, schedule, None)
        whole = yearly_interest(balance, TierMode.WHOLE, schedule, None)
        assert banded is not None and whole is not None
        assert banded <= whole

    @given(balance=balances, rate=rates)
    def test_banded_equals_whole_with_one_tier(self, balance: Decimal, rate: Decimal) -> None:
        schedule = (Tier(_EPOCH, Decimal(0), rate),)
        assert yearly_interest(balance, TierMode.BANDED, schedule, None) == yearly_interest(
            balance, TierMode.WHOLE, schedule, None
        )


class TestPostingProperties:
    @given(periods=split_accruals(), digits=minor_units, tax_rate=tax_rates)
    def test_gross_plus_final_carry_equals_accruals(
        self, periods: list[list[Decimal]], digits: int, tax_rate: Decimal
    ) -> None:
        postings = _chain(periods, digits, tax_rate)
        total_accrued = sum((a for amounts in periods for a in amounts), Decimal(0))
        assert sum((p.gross for p in postings), Decimal(0)) + postings[-1].carry_out == total_accrued

    @given(periods=split_accruals(), digits=minor_units, tax_rate=tax_rates)
    def test_gross_is_a_multiple_of_the_minor_unit(
        self, periods: list[list[Decimal]], digits: int, tax_rate: Decimal
    ) -> None:
        for posting in _chain(periods, digits, tax_rate):
            scaled = Fraction(posting.gross) * 10**digits
            assert scaled.denominator == 1
            assert posting.gross.as_tuple().exponent == -digits

    @given(periods=split_accruals(), digits=minor_units, tax_rate=tax_rates)
    def test_journals_balance_and_net_plus_tax_is_gross(
        self, periods: list[list[Decimal]], digits: int, tax_rate: Decimal
    ) -> None:
        for posting in _chain(periods, digits, tax_rate):
            assert posting.net + posting.tax == posting.gross
            debits = sum((line.debit for line in posting.journal), Decimal(0))
            credits = sum((line.credit for line in posting.journal), Decimal(0))
            assert debits == credits
            assert debits == (posting.gross if posting.journal else 0)

    @given(periods=split_accruals(), digits=minor_units, tax_rate=tax_rates)
    def test_carry_stays_within_half_a_minor_unit(
        self, periods: list[list[Decimal]], digits: int, tax_rate: Decimal
    ) -> None:
        for posting in _chain(periods, digits, tax_rate):
            assert abs(Fraction(posting.carry_out)) <= Fraction(1, 2 * 10**digits)


class TestRoundingProperties:
    @given(
        value=st.fractions(min_value=-(10**9), max_value=10**9),
        places=st.integers(min_value=0, max_value=12),
    )
    def test_within_half_a_unit(self, value: Fraction, places: int) -> None:
        assert abs(Fraction(round_half_even(value, places)) - value) <= Fraction(1, 2 * 10**places)

    @given(
        value=st.integers(min_value=-(10**15), max_value=10**15), places=st.integers(min_value=0, max_value=6)
    )
    def test_ties_go_to_even(self, value: int, places: int) -> None:
        tie = Fraction(2 * value + 1, 2 * 10**places)
        last_digit = Fraction(round_half_even(tie, places)) * 10**places
        assert last_digit.denominator == 1 and last_digit.numerator % 2 == 0


class TestDayCountProperties:
    @given(
        start=st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 1, 1)),
        days=st.integers(min_value=0, max_value=800),
        convention=st.sampled_from([DayCount.ACT_365F, DayCount.ACT_360, DayCount.ACT_ACT]),
    )
    def test_nights_add_up_to_the_period(self, start: date, days: int, convention: DayCount) -> None:
        nights = sum(
            (night_fraction(convention, start + timedelta(days=n)) for n in range(days)), Fraction(0)
        )
        assert nights == year_fraction(convention, start, start + timedelta(days=days))

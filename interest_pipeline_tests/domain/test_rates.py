from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest

from interest_pipeline.domain import Tier, TierMode, schedule_in_force, yearly_interest

_JAN = date(2025, 1, 1)
_MID_MONTH = date(2025, 1, 15)
_FEB = date(2025, 2, 1)

HISTORY = [
    Tier(_MID_MONTH, Decimal("10000"), Decimal("2.5")),
    Tier(_JAN, Decimal("10000"), Decimal("2")),
    Tier(_JAN, Decimal("0"), Decimal("1")),
    Tier(_MID_MONTH, Decimal("0"), Decimal("1.5")),
    Tier(_FEB, Decimal("0"), Decimal("3")),
]

THREE_TIERS = (
    Tier(_JAN, Decimal("0"), Decimal("1")),
    Tier(_JAN, Decimal("10000"), Decimal("2")),
    Tier(_JAN, Decimal("50000"), Decimal("3")),
)


class TestScheduleInForce:
    @pytest.mark.parametrize(
        ("on", "expected_from", "expected_rates"),
        [
            (date(2024, 12, 31), None, ()),
            (_JAN, _JAN, ("1", "2")),
            (date(2025, 1, 14), _JAN, ("1", "2")),
            (_MID_MONTH, _MID_MONTH, ("1.5", "2.5")),
            (date(2025, 1, 31), _MID_MONTH, ("1.5", "2.5")),
            (_FEB, _FEB, ("3",)),
            (date(2030, 1, 1), _FEB, ("3",)),
        ],
    )
    def test_picks_rows_with_greatest_effective_from_on_or_before(
        self, on: date, expected_from: date | None, expected_rates: tuple[str, ...]
    ) -> None:
        schedule = schedule_in_force(HISTORY, on)
        assert tuple(t.annual_rate for t in schedule) == tuple(Decimal(r) for r in expected_rates)
        assert {t.effective_from for t in schedule} <= {expected_from}

    def test_sorts_by_min_balance(self) -> None:
        schedule = schedule_in_force(reversed(THREE_TIERS), _JAN)
        assert [t.min_balance for t in schedule] == [Decimal(0), Decimal(10000), Decimal(50000)]

    def test_is_empty_without_tiers(self) -> None:
        assert schedule_in_force([], _JAN) == ()


class TestYearlyInterest:
    @pytest.mark.parametrize(
        ("balance", "expected"),
        [
            ("0.0001", "0.000001"),
            ("9999.9999", "99.999999"),
            ("10000", "200"),
            ("15000", "300"),
            ("49999.99", "999.9998"),
            ("50000", "1500"),
            ("100000", "3000"),
        ],
    )
    def test_whole_applies_one_tier_to_whole_balance(self, balance: str, expected: str) -> None:
        assert yearly_interest(Decimal(balance), TierMode.WHOLE, THREE_TIERS, None) == Decimal(expected)

    @pytest.mark.parametrize(
        ("balance", "expected"),
        [
            ("0.0001", "0.000001"),
            ("10000", "100"),
            ("15000", "200"),
            ("50000", "900"),
            ("100000", "2400"),
        ],
    )
    def test_banded_pays_each_band_its_rate(self, balance: str, expected: str) -> None:
        assert yearly_interest(Decimal(balance), TierMode.BANDED, THREE_TIERS, None) == Decimal(expected)

    @pytest.mark.parametrize("mode", list(TierMode))
    def test_override_applies_to_whole_balance(self, mode: TierMode) -> None:
        assert yearly_interest(Decimal("15000"), mode, THREE_TIERS, Decimal("4")) == Decimal("600")

    @pytest.mark.parametrize("mode", list(TierMode))
    def test_no_override_and_no_schedule_gives_none(self, mode: TierMode) -> None:
        assert yearly_interest(Decimal("15000"), mode, (), None) is None

    @pytest.mark.parametrize("mode", list(TierMode))
    def test_zero_override_is_a_rate(self, mode: TierMode) -> None:
        assert yearly_interest(Decimal("15000"), mode, (), Decimal("0")) == Decimal(0)

    def test_whole_below_lowest_tier_gives_none(self) -> None:
        schedule = (Tier(_JAN, Decimal("100"), Decimal("1")),)
        assert yearly_interest(Decimal("50"), TierMode.WHOLE, schedule, None) is None

    def test_banded_below_lowest_tier_earns_nothing(self) -> None:
        schedule = (Tier(_JAN, Decimal("100"), Decimal("1")),)
        assert yearly_interest(Decimal("150"), TierMode.BANDED, schedule, None) == Decimal("0.5")

    def test_is_exact_beyond_default_decimal_precision(self) -> None:
        balance = Decimal("123456789012345678901234.5678")
        rate = Decimal("999.999999")
        result = yearly_interest(balance, TierMode.WHOLE, (Tier(_JAN, Decimal(0), rate),), None)
        assert result is not None
        assert Fraction(result) == Fraction(balance) * Fraction(rate) / 100

    def test_ignores_schedule_order(self) -> None:
        forward = yearly_interest(Decimal("60000"), TierMode.BANDED, THREE_TIERS, None)
        backward = yearly_interest(Decimal("60000"), TierMode.BANDED, THREE_TIERS[::-1], None)
        assert forward == backward

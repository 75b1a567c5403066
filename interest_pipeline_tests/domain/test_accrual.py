from datetime import date
from decimal import Decimal

import pytest

from interest_pipeline.domain import DayCount, Tier, TierMode, daily_accrual

_EPOCH = date(2000, 1, 1)


def _schedule(*tiers: tuple[str, str]) -> tuple[Tier, ...]:
    return tuple(Tier(_EPOCH, Decimal(minimum), Decimal(rate)) for minimum, rate in tiers)


# Spec §6, every row; "any" dates are sampled across leap and common years.
SPEC_EXAMPLES = [
    ("10000.0000", TierMode.WHOLE, [("0", "3.65")], DayCount.ACT_365F, date(2026, 3, 10), "1.0000000000"),
    ("1000.0000", TierMode.WHOLE, [("0", "10")], DayCount.ACT_365F, date(2024, 2, 29), "0.2739726027"),
    ("1000.0000", TierMode.WHOLE, [("0", "10")], DayCount.ACT_ACT, date(2024, 2, 29), "0.2732240437"),
    ("1000.0000", TierMode.WHOLE, [("0", "10")], DayCount.ACT_360, date(2025, 6, 1), "0.2777777778"),
    ("1000.0000", TierMode.WHOLE, [("0", "12")], DayCount.THIRTY_360, date(2025, 1, 30), "0.0000000000"),
    ("1000.0000", TierMode.WHOLE, [("0", "12")], DayCount.THIRTY_360, date(2025, 1, 31), "0.3333333333"),
    ("1000.0000", TierMode.WHOLE, [("0", "12")], DayCount.THIRTY_360, date(2025, 2, 28), "1.0000000000"),
    ("50452.2090", TierMode.WHOLE, [("0", "4.525")], DayCount.ACT_360, date(2025, 2, 26), "6.3415623812"),
    ("69033.9105", TierMode.WHOLE, [("0", "0.01")], DayCount.THIRTY_360, date(2024, 6, 24), "0.0191760862"),
    *[
        ("15000.0000", mode, [("0", "1"), ("10000", "2")], DayCount.ACT_365F, day, expected)
        for mode, expected in [(TierMode.BANDED, "0.5479452055"), (TierMode.WHOLE, "0.8219178082")]
        for day in [date(2024, 2, 29), date(2024, 12, 31), date(2025, 1, 1), date(2025, 7, 15)]
    ],
]


class TestDailyAccrual:
    @pytest.mark.parametrize(("balance", "mode", "tiers", "day_count", "day", "expected"), SPEC_EXAMPLES)
    def test_spec_worked_examples(
        self,
        balance: str,
        mode: TierMode,
        tiers: list[tuple[str, str]],
        day_count: DayCount,
        day: date,
        expected: str,
    ) -> None:
        amount = daily_accrual(Decimal(balance), day_count, day, mode, _schedule(*tiers), None)
        assert amount is not None
        assert f"{amount:f}" == expected

    def test_january_2025_sums_to_spec_total(self) -> None:
        days = [date(2025, 1, d) for d in range(1, 32)]
        amounts = [
            daily_accrual(
                Decimal("1000.0000"), DayCount.ACT_365F, d, TierMode.WHOLE, _schedule(("0", "10")), None
            )
            for d in days
        ]
        assert sum(a for a in amounts if a is not None) == Decimal("8.4931506837")
        assert set(amounts) == {Decimal("0.2739726027")}

    def test_tie_at_eleventh_decimal_is_not_double_rounded(self) -> None:
        # Rounding 1/360 first (to 10 dp) would give 6.3415623813.
        amount = daily_accrual(
            Decimal("50452.2090"),
            DayCount.ACT_360,
            date(2025, 2, 26),
            TierMode.WHOLE,
            _schedule(("0", "4.525")),
            None,
        )
        assert amount == Decimal("6.3415623812")

    @pytest.mark.parametrize("mode", list(TierMode))
    def test_rate_override_beats_the_schedule(self, mode: TierMode) -> None:
        amount = daily_accrual(
            Decimal("1000"), DayCount.ACT_360, date(2025, 6, 1), mode, _schedule(("0", "1")), Decimal("10")
        )
        assert amount == Decimal("0.2777777778")

    def test_rate_override_without_a_schedule_accrues(self) -> None:
        amount = daily_accrual(
            Decimal("1000"), DayCount.ACT_360, date(2025, 6, 1), TierMode.WHOLE, (), Decimal("10")
        )
        assert amount == Decimal("0.2777777778")

    def test_no_rate_gives_none(self) -> None:
        assert (
            daily_accrual(Decimal("1000"), DayCount.ACT_360, date(2025, 6, 1), TierMode.WHOLE, (), None)
            is None
        )

    @pytest.mark.parametrize(
        ("day", "expected"),
        [
            (date(2025, 1, 14), None),
            (date(2025, 1, 15), "0.2739726027"),
            (date(2025, 1, 31), "0.2739726027"),
            (date(2025, 2, 1), "0.5479452055"),
        ],
    )
    def test_uses_the_schedule_in_force_on_the_day(self, day: date, expected: str | None) -> None:
        history = [
            Tier(date(2025, 1, 15), Decimal(0), Decimal("10")),
            Tier(date(2025, 2, 1), Decimal(0), Decimal("20")),
        ]
        amount = daily_accrual(Decimal("1000"), DayCount.ACT_365F, day, TierMode.WHOLE, history, None)
        assert amount == (None if expected is None else Decimal(expected))

    def test_amount_has_ten_decimals(self) -> None:
        amount = daily_accrual(
            Decimal("1"), DayCount.ACT_360, date(2025, 6, 1), TierMode.WHOLE, _schedule(("0", "0")), None
        )
        assert amount is not None
        assert amount.as_tuple().exponent == -10

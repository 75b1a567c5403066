"""The daily accrual amount (spec §2)."""

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from fractions import Fraction

from interest_pipeline.domain.daycount import night_fraction
from interest_pipeline.domain.enums import DayCount, TierMode
from interest_pipeline.domain.rates import Tier, schedule_in_force, yearly_interest
from interest_pipeline.domain.rounding import round_half_even

ACCRUAL_PLACES = 10


def daily_accrual(
    balance: Decimal,
    day_count: DayCount,
    d: date,
    tier_mode: TierMode,
    schedule: Sequence[Tier],
    rate_override: Decimal | None,
) -> Decimal | None:
    """round_half_even(Y * yf(d), 10) with nothing rounded before; None when no rate applies.

    `schedule` may be a product's whole tier history: only the rows in force on `d` count.
    """
    yearly = yearly_interest(balance, tier_mode, schedule_in_force(schedule, d), rate_override)
    if yearly is None:
        return None
    return round_half_even(Fraction(yearly) * night_fraction(day_count, d), ACCRUAL_PLACES)

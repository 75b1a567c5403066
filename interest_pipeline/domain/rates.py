"""Rate schedules and yearly interest (spec §2), exact and unrounded."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from interest_pipeline.domain.enums import TierMode
from interest_pipeline.domain.rounding import EXACT

_HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Tier:
    """One `interest_rate_tiers` row; `annual_rate` is a percent."""

    effective_from: date
    min_balance: Decimal
    annual_rate: Decimal


def schedule_in_force(tiers: Iterable[Tier], on: date) -> tuple[Tier, ...]:
    """The rows with the greatest effective_from <= on, by min_balance; empty when none."""
    candidates = [tier for tier in tiers if tier.effective_from <= on]
    if not candidates:
        return ()
    latest = max(tier.effective_from for tier in candidates)
    return tuple(sorted((t for t in candidates if t.effective_from == latest), key=lambda t: t.min_balance))


def _interest(amount: Decimal, rate: Decimal) -> Decimal:
    return EXACT.divide(EXACT.multiply(amount, rate), _HUNDRED)


def whole_interest(balance: Decimal, schedule: Sequence[Tier]) -> Decimal | None:
    applicable = [tier for tier in schedule if tier.min_balance <= balance]
    if not applicable:
        return None
    tier = max(applicable, key=lambda t: t.min_balance)
    return _interest(balance, tier.annual_rate)


def banded_interest(balance: Decimal, schedule: Sequence[Tier]) -> Decimal | None:
    if not schedule:
        return None
    ordered = sorted(schedule, key=lambda t: t.min_balance)
    uppers: list[Decimal | None] = [tier.min_balance for tier in ordered[1:]]
    uppers.append(None)
    total = Decimal(0)
    for tier, upper in zip(ordered, uppers, strict=True):
        if tier.min_balance >= balance:
            break
        top = balance if upper is None else min(balance, upper)
        total = EXACT.add(total, _interest(EXACT.subtract(top, tier.min_balance), tier.annual_rate))
    return total


def yearly_interest(
    balance: Decimal,
    tier_mode: TierMode,
    schedule: Sequence[Tier],
    rate_override: Decimal | None,
) -> Decimal | None:
    """Interest a year at `balance` under the schedule in force; None when no rate applies."""
    if rate_override is not None:
        return _interest(balance, rate_override)
    match tier_mode:
        case TierMode.WHOLE:
            return whole_interest(balance, schedule)
        case TierMode.BANDED:
            return banded_interest(balance, schedule)

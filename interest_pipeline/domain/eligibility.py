"""Which of the four outcomes an account gets on business date D (spec §2).

Reason codes are stable strings: the SQL implementation writes the same ones.
"""

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from interest_pipeline.domain.accrual import daily_accrual
from interest_pipeline.domain.enums import AccountStatus, AccountType, AccrualKind
from interest_pipeline.domain.rates import Tier
from interest_pipeline.domain.types import AccountFacts

# INELIGIBLE: no account result is required for these, but a reason helps explain a gap.
NOT_YET_OPEN = "NOT_YET_OPEN"
CLOSED = "CLOSED"
MATURED = "MATURED"
DORMANT = "DORMANT"
ACCOUNT_TYPE_EXCLUDED = "ACCOUNT_TYPE_EXCLUDED"
NO_BALANCE = "NO_BALANCE"
# SKIPPED
NON_POSITIVE_BALANCE = "NON_POSITIVE_BALANCE"
BELOW_MIN_BALANCE = "BELOW_MIN_BALANCE"
# FAILED
NO_RATE = "NO_RATE"

INELIGIBLE_REASONS = frozenset({NOT_YET_OPEN, CLOSED, MATURED, DORMANT, ACCOUNT_TYPE_EXCLUDED, NO_BALANCE})
SKIP_REASONS = frozenset({NON_POSITIVE_BALANCE, BELOW_MIN_BALANCE})
FAILURE_REASONS = frozenset({NO_RATE})


@dataclass(frozen=True)
class AccrualDecision:
    kind: AccrualKind
    reason: str | None = None
    amount: Decimal | None = None


def ineligibility_reason(
    account: AccountFacts,
    balance: Decimal | None,
    on: date,
    *,
    include_dormant: bool,
    account_types: Collection[AccountType],
) -> str | None:
    """The first eligibility rule the account breaks on `on`, or None when it is eligible."""
    if on < account.opened_on:
        return NOT_YET_OPEN
    if account.closed_on is not None and on >= account.closed_on:
        return CLOSED
    if account.maturity_date is not None and on >= account.maturity_date:
        return MATURED
    if account.status is AccountStatus.DORMANT and not include_dormant:
        return DORMANT
    if account.account_type not in account_types:
        return ACCOUNT_TYPE_EXCLUDED
    if balance is None:
        return NO_BALANCE
    return None


def accrual_decision(
    account: AccountFacts,
    balance: Decimal | None,
    on: date,
    *,
    include_dormant: bool,
    account_types: Collection[AccountType],
    schedule: Sequence[Tier],
) -> AccrualDecision:
    """`balance` is the end-of-day balance on `on` (None when there is no snapshot yet).

    `schedule` may be the product's whole tier history: only the rows in force on `on` count.
    """
    reason = ineligibility_reason(
        account, balance, on, include_dormant=include_dormant, account_types=account_types
    )
    if reason is not None or balance is None:
        return AccrualDecision(AccrualKind.INELIGIBLE, reason or NO_BALANCE)
    if balance <= 0:
        return AccrualDecision(AccrualKind.SKIPPED, NON_POSITIVE_BALANCE)
    threshold = account.min_balance_for_interest
    if threshold is not None and balance < threshold:
        return AccrualDecision(AccrualKind.SKIPPED, BELOW_MIN_BALANCE)
    amount = daily_accrual(balance, account.day_count, on, account.tier_mode, schedule, account.rate_override)
    if amount is None:
        return AccrualDecision(AccrualKind.FAILED, NO_RATE)
    return AccrualDecision(AccrualKind.ACCRUE, amount=amount)

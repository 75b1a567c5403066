"""Pure interest domain core: the rules of the interest model, exact and free of I/O.

Decimal and Fraction only; no float, no database, no orchestration imports.
"""

from interest_pipeline.domain.accrual import ACCRUAL_PLACES, daily_accrual
from interest_pipeline.domain.calendar import is_final_posting, is_month_end, is_period_end, posting_due
from interest_pipeline.domain.daycount import (
    day_count,
    days_in_year,
    night_basis,
    night_day_count,
    night_fraction,
    thirty_360_days,
    year_fraction,
)
from interest_pipeline.domain.eligibility import (
    ACCOUNT_TYPE_EXCLUDED,
    BELOW_MIN_BALANCE,
    CLOSED,
    DORMANT,
    FAILURE_REASONS,
    INELIGIBLE_REASONS,
    MATURED,
    NO_BALANCE,
    NO_RATE,
    NON_POSITIVE_BALANCE,
    NOT_YET_OPEN,
    SKIP_REASONS,
    AccrualDecision,
    accrual_decision,
    ineligibility_reason,
)
from interest_pipeline.domain.enums import (
    AccountStatus,
    AccountType,
    AccrualKind,
    DayCount,
    PostingFrequency,
    TierMode,
)
from interest_pipeline.domain.posting import (
    CARRY_PLACES,
    GL_CUSTOMER_DEPOSITS,
    GL_INTEREST_EXPENSE,
    GL_WITHHOLDING_TAX,
    JournalLine,
    Posting,
    compute_posting,
    idempotency_key,
    journal_lines,
)
from interest_pipeline.domain.rates import (
    Tier,
    banded_interest,
    schedule_in_force,
    whole_interest,
    yearly_interest,
)
from interest_pipeline.domain.rounding import round_half_even, to_decimal_exact
from interest_pipeline.domain.simulate import SimulationResult, simulate
from interest_pipeline.domain.types import AccountFacts, ProductFacts

__all__ = [
    "ACCOUNT_TYPE_EXCLUDED",
    "ACCRUAL_PLACES",
    "BELOW_MIN_BALANCE",
    "CARRY_PLACES",
    "CLOSED",
    "DORMANT",
    "FAILURE_REASONS",
    "GL_CUSTOMER_DEPOSITS",
    "GL_INTEREST_EXPENSE",
    "GL_WITHHOLDING_TAX",
    "INELIGIBLE_REASONS",
    "MATURED",
    "NON_POSITIVE_BALANCE",
    "NOT_YET_OPEN",
    "NO_BALANCE",
    "NO_RATE",
    "SKIP_REASONS",
    "AccountFacts",
    "AccountStatus",
    "AccountType",
    "AccrualDecision",
    "AccrualKind",
    "DayCount",
    "JournalLine",
    "Posting",
    "PostingFrequency",
    "ProductFacts",
    "SimulationResult",
    "Tier",
    "TierMode",
    "accrual_decision",
    "banded_interest",
    "compute_posting",
    "daily_accrual",
    "day_count",
    "days_in_year",
    "idempotency_key",
    "ineligibility_reason",
    "is_final_posting",
    "is_month_end",
    "is_period_end",
    "journal_lines",
    "night_basis",
    "night_day_count",
    "night_fraction",
    "posting_due",
    "round_half_even",
    "schedule_in_force",
    "simulate",
    "thirty_360_days",
    "to_decimal_exact",
    "whole_interest",
    "year_fraction",
    "yearly_interest",
]

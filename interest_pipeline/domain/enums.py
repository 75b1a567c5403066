"""The closed vocabularies of the input tables; values are the exact strings stored in the database."""

from enum import StrEnum


class AccountType(StrEnum):
    SAVINGS = "SAVINGS"
    FIXED_DEPOSIT = "FIXED_DEPOSIT"
    RECURRING_DEPOSIT = "RECURRING_DEPOSIT"


class DayCount(StrEnum):
    ACT_365F = "ACT/365F"
    ACT_360 = "ACT/360"
    THIRTY_360 = "30/360"
    ACT_ACT = "ACT/ACT"


class PostingFrequency(StrEnum):
    MONTHLY = "MONTHLY"
    QUARTERLY = "QUARTERLY"
    SEMI_ANNUAL = "SEMI_ANNUAL"
    ANNUAL = "ANNUAL"
    AT_MATURITY = "AT_MATURITY"


class TierMode(StrEnum):
    WHOLE = "WHOLE"
    BANDED = "BANDED"


class AccountStatus(StrEnum):
    ACTIVE = "ACTIVE"
    DORMANT = "DORMANT"
    CLOSED = "CLOSED"


class AccrualKind(StrEnum):
    INELIGIBLE = "INELIGIBLE"
    SKIPPED = "SKIPPED"
    FAILED = "FAILED"
    ACCRUE = "ACCRUE"


# The pipeline's own records. Job types are also the Dagster job names.
class JobType(StrEnum):
    DAILY_INTEREST_ACCRUAL = "daily_interest_accrual"
    INTEREST_POSTING = "interest_posting"


class AccrualStatus(StrEnum):
    ACCRUED = "ACCRUED"
    CAPITALIZED = "CAPITALIZED"


class ExecutionTrigger(StrEnum):
    SCHEDULE = "SCHEDULE"
    SENSOR = "SENSOR"
    BACKFILL = "BACKFILL"
    MANUAL = "MANUAL"


class ExecutionStatus(StrEnum):
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    PARTIAL = "PARTIAL"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class ResultStatus(StrEnum):
    """An account's outcome in one run (interest_batch_account_result.status)."""

    SUCCESS = "SUCCESS"
    SKIPPED = "SKIPPED"
    FAILED = "FAILED"


def values(vocabulary: type[StrEnum]) -> tuple[str, ...]:
    """The stored strings of a vocabulary, in declaration order (CHECK constraints, loaders)."""
    return tuple(member.value for member in vocabulary)

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

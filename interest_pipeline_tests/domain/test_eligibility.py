from collections.abc import Collection
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from interest_pipeline.domain import (
    ACCOUNT_TYPE_EXCLUDED,
    BELOW_MIN_BALANCE,
    CLOSED,
    DORMANT,
    MATURED,
    NO_BALANCE,
    NO_RATE,
    NON_POSITIVE_BALANCE,
    NOT_YET_OPEN,
    AccountFacts,
    AccountStatus,
    AccountType,
    AccrualDecision,
    AccrualKind,
    DayCount,
    PostingFrequency,
    ProductFacts,
    Tier,
    TierMode,
    accrual_decision,
)

D = date(2025, 6, 1)
ALL_TYPES = frozenset(AccountType)
SCHEDULE = (Tier(date(2025, 1, 1), Decimal(0), Decimal("10")),)
PRODUCT = ProductFacts(
    code="SAV",
    account_type=AccountType.SAVINGS,
    day_count=DayCount.ACT_360,
    posting_frequency=PostingFrequency.MONTHLY,
    tier_mode=TierMode.WHOLE,
    min_balance_for_interest=Decimal("500"),
)
ACCOUNT = AccountFacts.of(PRODUCT, id=1, currency="USD", opened_on=date(2025, 1, 1))
ONE_DAY_AT_10_PCT_ON_1000 = Decimal("0.2777777778")


def _decide(
    account: AccountFacts = ACCOUNT,
    balance: Decimal | None = Decimal("1000"),
    *,
    include_dormant: bool = False,
    account_types: Collection[AccountType] = ALL_TYPES,
    schedule: tuple[Tier, ...] = SCHEDULE,
) -> AccrualDecision:
    return accrual_decision(
        account, balance, D, include_dormant=include_dormant, account_types=account_types, schedule=schedule
    )


class TestDates:
    @pytest.mark.parametrize(
        ("changes", "reason"),
        [
            ({"opened_on": date(2025, 6, 2)}, NOT_YET_OPEN),
            ({"closed_on": D, "status": AccountStatus.CLOSED}, CLOSED),
            ({"closed_on": date(2025, 5, 1), "status": AccountStatus.CLOSED}, CLOSED),
            ({"maturity_date": D}, MATURED),
            ({"maturity_date": date(2025, 5, 31)}, MATURED),
        ],
    )
    def test_outside_the_account_life_is_ineligible(self, changes: dict[str, object], reason: str) -> None:
        assert _decide(replace(ACCOUNT, **changes)) == AccrualDecision(AccrualKind.INELIGIBLE, reason)  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        "changes",
        [
            {"opened_on": D},
            {"closed_on": date(2025, 6, 2), "status": AccountStatus.CLOSED},
            {"maturity_date": date(2025, 6, 2)},
            {"closed_on": date(2025, 6, 2), "maturity_date": date(2025, 6, 2)},
        ],
    )
    def test_inside_the_account_life_accrues(self, changes: dict[str, object]) -> None:
        decision = _decide(replace(ACCOUNT, **changes))  # type: ignore[arg-type]
        assert decision == AccrualDecision(AccrualKind.ACCRUE, amount=ONE_DAY_AT_10_PCT_ON_1000)

    def test_closed_account_still_accrues_backfilled_earlier_dates(self) -> None:
        closed = replace(ACCOUNT, status=AccountStatus.CLOSED, closed_on=date(2025, 7, 1))
        assert _decide(closed).kind is AccrualKind.ACCRUE


class TestStatusAndType:
    @pytest.mark.parametrize(
        ("status", "include_dormant", "kind"),
        [
            (AccountStatus.DORMANT, False, AccrualKind.INELIGIBLE),
            (AccountStatus.DORMANT, True, AccrualKind.ACCRUE),
            (AccountStatus.ACTIVE, False, AccrualKind.ACCRUE),
            (AccountStatus.ACTIVE, True, AccrualKind.ACCRUE),
        ],
    )
    def test_dormant_accrues_only_when_included(
        self, status: AccountStatus, include_dormant: bool, kind: AccrualKind
    ) -> None:
        assert _decide(replace(ACCOUNT, status=status), include_dormant=include_dormant).kind is kind

    def test_dormant_reason(self) -> None:
        assert _decide(replace(ACCOUNT, status=AccountStatus.DORMANT)).reason == DORMANT

    @pytest.mark.parametrize(
        ("account_types", "kind"),
        [
            ({AccountType.SAVINGS}, AccrualKind.ACCRUE),
            ({AccountType.SAVINGS, AccountType.FIXED_DEPOSIT}, AccrualKind.ACCRUE),
            ({AccountType.FIXED_DEPOSIT, AccountType.RECURRING_DEPOSIT}, AccrualKind.INELIGIBLE),
            (set(), AccrualKind.INELIGIBLE),
        ],
    )
    def test_type_must_be_among_configured_types(
        self, account_types: set[AccountType], kind: AccrualKind
    ) -> None:
        assert _decide(account_types=account_types).kind is kind

    def test_type_filter_reason(self) -> None:
        assert _decide(account_types={AccountType.FIXED_DEPOSIT}).reason == ACCOUNT_TYPE_EXCLUDED


class TestBalance:
    def test_no_balance_is_ineligible(self) -> None:
        assert _decide(balance=None) == AccrualDecision(AccrualKind.INELIGIBLE, NO_BALANCE)

    @pytest.mark.parametrize(
        ("balance", "reason"),
        [
            ("0", NON_POSITIVE_BALANCE),
            ("0.0000", NON_POSITIVE_BALANCE),
            ("-0.0001", NON_POSITIVE_BALANCE),
            ("-1000", NON_POSITIVE_BALANCE),
            ("0.0001", BELOW_MIN_BALANCE),
            ("499.9999", BELOW_MIN_BALANCE),
        ],
    )
    def test_skipped_with_reason(self, balance: str, reason: str) -> None:
        assert _decide(balance=Decimal(balance)) == AccrualDecision(AccrualKind.SKIPPED, reason)

    def test_at_threshold_whole_balance_earns(self) -> None:
        # 500 at 10 % over 1/360: the whole balance, not only the part above the threshold.
        assert _decide(balance=Decimal("500")) == AccrualDecision(
            AccrualKind.ACCRUE, amount=Decimal("0.1388888889")
        )

    def test_no_threshold_accrues_small_balance(self) -> None:
        account = replace(ACCOUNT, min_balance_for_interest=None)
        assert _decide(account, Decimal("0.0001")).kind is AccrualKind.ACCRUE

    def test_skip_comes_before_missing_rate(self) -> None:
        assert _decide(balance=Decimal(0), schedule=()).kind is AccrualKind.SKIPPED


class TestRate:
    def test_no_rate_fails(self) -> None:
        assert _decide(schedule=()) == AccrualDecision(AccrualKind.FAILED, NO_RATE)

    def test_schedule_not_yet_in_force_fails(self) -> None:
        later = (Tier(date(2025, 6, 2), Decimal(0), Decimal("10")),)
        assert _decide(schedule=later) == AccrualDecision(AccrualKind.FAILED, NO_RATE)

    def test_override_without_schedule_accrues(self) -> None:
        account = replace(ACCOUNT, rate_override=Decimal("10"))
        assert _decide(account, schedule=()) == AccrualDecision(
            AccrualKind.ACCRUE, amount=ONE_DAY_AT_10_PCT_ON_1000
        )

    def test_override_beats_tiers(self) -> None:
        account = replace(ACCOUNT, rate_override=Decimal("20"))
        assert _decide(account).amount == Decimal("0.5555555556")

    def test_accepts_the_whole_tier_history(self) -> None:
        history = (*SCHEDULE, Tier(date(2025, 6, 2), Decimal(0), Decimal("99")))
        assert _decide(schedule=history).amount == ONE_DAY_AT_10_PCT_ON_1000

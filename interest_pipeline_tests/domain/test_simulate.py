from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest

from interest_pipeline.domain import (
    ACCOUNT_TYPE_EXCLUDED,
    BELOW_MIN_BALANCE,
    DORMANT,
    NO_BALANCE,
    NO_RATE,
    NON_POSITIVE_BALANCE,
    AccountFacts,
    AccountStatus,
    AccountType,
    DayCount,
    PostingFrequency,
    ProductFacts,
    SimulationResult,
    Tier,
    TierMode,
    simulate,
)

JAN_1 = date(2025, 1, 1)
JAN_31 = date(2025, 1, 31)
FEB_28 = date(2025, 2, 28)
DAILY_AT_10_PCT = Decimal("0.2739726027")
MINOR_UNITS = {"USD": 2, "JPY": 0, "KWD": 3}

SAVINGS = ProductFacts(
    code="SAV",
    account_type=AccountType.SAVINGS,
    day_count=DayCount.ACT_365F,
    posting_frequency=PostingFrequency.MONTHLY,
    tier_mode=TierMode.WHOLE,
    min_balance_for_interest=Decimal("100"),
    withholding_tax_rate=Decimal("15"),
)
SAVINGS_TIERS = [("SAV", Tier(date(2024, 1, 1), Decimal(0), Decimal("10")))]
ACCOUNT = AccountFacts.of(SAVINGS, id=1, currency="USD", opened_on=JAN_1)


def _run(
    accounts: list[AccountFacts] | None = None,
    *,
    products: list[ProductFacts] | None = None,
    tiers: list[tuple[str, Tier]] | None = None,
    balances: dict[int, list[tuple[date, Decimal]]] | None = None,
    end: date = JAN_31,
    start: date = JAN_1,
    include_dormant: bool = False,
    account_types: frozenset[AccountType] = frozenset(AccountType),
) -> SimulationResult:
    accounts = accounts or [ACCOUNT]
    return simulate(
        products={p.code: p for p in (products or [SAVINGS])},
        tiers=SAVINGS_TIERS if tiers is None else tiers,
        accounts=accounts,
        balances=balances if balances is not None else {a.id: [(JAN_1, Decimal("1000"))] for a in accounts},
        minor_units=MINOR_UNITS,
        start=start,
        end=end,
        include_dormant=include_dormant,
        account_types=account_types,
    )


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


class TestSpecJanuaryExample:
    def test_accrues_every_day(self) -> None:
        result = _run()
        assert result.accruals == {(1, d): DAILY_AT_10_PCT for d in _days(JAN_1, JAN_31)}

    def test_posts_on_month_end(self) -> None:
        [posting] = _run().postings
        assert (posting.posting_date, posting.gross, posting.carry_out, posting.tax, posting.net) == (
            JAN_31,
            Decimal("8.49"),
            Decimal("0.0031506837"),
            Decimal("1.27"),
            Decimal("7.22"),
        )

    def test_capitalizes_every_accrual_on_posting_date(self) -> None:
        assert _run().capitalization_dates == {(1, d): JAN_31 for d in _days(JAN_1, JAN_31)}

    def test_records_balances(self) -> None:
        assert set(_run().accrual_balances.values()) == {Decimal("1000")}


class TestCarryAcrossPostings:
    def test_february_carries_january_remainder(self) -> None:
        january, february = _run(end=FEB_28).postings
        assert february.carry_in == january.carry_out == Decimal("0.0031506837")
        # 28 x 0.2739726027 + 0.0031506837 = 7.6743835593
        assert (february.gross, february.carry_out) == (Decimal("7.67"), Decimal("0.0043835593"))

    def test_quarterly_accumulates_three_months(self) -> None:
        product = replace(SAVINGS, posting_frequency=PostingFrequency.QUARTERLY)
        account = AccountFacts.of(product, id=1, currency="USD", opened_on=JAN_1)
        [posting] = _run([account], products=[product], end=date(2025, 4, 30)).postings
        assert (posting.posting_date, posting.accrued) == (date(2025, 3, 31), DAILY_AT_10_PCT * 90)


class TestBalances:
    def test_uses_latest_snapshot_on_or_before_each_day(self) -> None:
        result = _run(balances={1: [(JAN_1, Decimal("1000")), (date(2025, 1, 11), Decimal("2000"))]})
        assert (result.accruals[(1, date(2025, 1, 10))], result.accruals[(1, date(2025, 1, 11))]) == (
            DAILY_AT_10_PCT,
            Decimal("0.5479452055"),
        )

    def test_days_before_first_snapshot_have_no_balance(self) -> None:
        result = _run(balances={1: [(date(2025, 1, 5), Decimal("1000"))]})
        assert result.ineligible == {(1, d): NO_BALANCE for d in _days(JAN_1, date(2025, 1, 4))}

    def test_skipped_days_are_not_posted(self) -> None:
        history = [
            (JAN_1, Decimal("1000")),
            (date(2025, 1, 11), Decimal("0")),
            (date(2025, 1, 21), Decimal("50")),
        ]
        result = _run(balances={1: history})
        assert (set(result.skipped.values()), len(result.skipped), result.postings[0].accrued) == (
            {NON_POSITIVE_BALANCE, BELOW_MIN_BALANCE},
            21,
            DAILY_AT_10_PCT * 10,
        )

    def test_due_account_without_accruals_gets_no_posting(self) -> None:
        result = _run(balances={1: [(JAN_1, Decimal("0"))]})
        assert (result.postings, result.posting_failures) == ([], {})


class TestFailures:
    LATE_TIERS = [("SAV", Tier(date(2025, 1, 10), Decimal(0), Decimal("10")))]

    def test_days_without_rate_fail(self) -> None:
        result = _run(tiers=self.LATE_TIERS)
        assert result.failed == {(1, d): NO_RATE for d in _days(JAN_1, date(2025, 1, 9))}

    def test_failed_dates_block_posting(self) -> None:
        result = _run(tiers=self.LATE_TIERS, end=FEB_28)
        failed_days = _days(JAN_1, date(2025, 1, 9))
        assert (result.postings, result.posting_failures) == (
            [],
            {(1, JAN_31): failed_days, (1, FEB_28): failed_days},
        )

    def test_blocked_accruals_stay_uncapitalized(self) -> None:
        result = _run(tiers=self.LATE_TIERS)
        assert (len(result.accruals), result.capitalization_dates) == (22, {})

    def test_failure_of_one_account_does_not_stop_others(self) -> None:
        other_product = replace(SAVINGS, code="NEW")
        other = AccountFacts.of(other_product, id=2, currency="USD", opened_on=JAN_1)
        result = _run([ACCOUNT, other], products=[SAVINGS, other_product])
        assert ([p.account_id for p in result.postings], len(result.failed)) == ([1], 31)


class TestFinalPostings:
    def test_at_maturity_posts_once_at_maturity(self) -> None:
        product = replace(SAVINGS, code="FD", posting_frequency=PostingFrequency.AT_MATURITY)
        account = AccountFacts.of(
            product, id=1, currency="USD", opened_on=JAN_1, maturity_date=date(2025, 3, 15)
        )
        tiers = [("FD", Tier(date(2024, 1, 1), Decimal(0), Decimal("10")))]
        result = _run([account], products=[product], tiers=tiers, end=date(2025, 6, 30))
        [posting] = result.postings
        assert (posting.posting_date, posting.is_final, posting.accrued, posting.written_off) == (
            date(2025, 3, 15),
            True,
            DAILY_AT_10_PCT * 73,
            posting.carry_out,
        )

    def test_closure_mid_month_posts_final_and_stops(self) -> None:
        account = replace(ACCOUNT, status=AccountStatus.CLOSED, closed_on=date(2025, 2, 10))
        result = _run([account], end=date(2025, 3, 31))
        assert [(p.posting_date, p.is_final) for p in result.postings] == [
            (JAN_31, False),
            (date(2025, 2, 10), True),
        ]
        assert max(d for _, d in result.accruals) == date(2025, 2, 9)

    def test_non_final_posting_writes_nothing_off(self) -> None:
        assert _run().postings[0].written_off == 0


class TestConfiguration:
    @pytest.mark.parametrize(("include_dormant", "accrued_days"), [(False, 0), (True, 31)])
    def test_dormant_accounts(self, include_dormant: bool, accrued_days: int) -> None:
        dormant = replace(ACCOUNT, status=AccountStatus.DORMANT)
        result = _run([dormant], include_dormant=include_dormant)
        assert len(result.accruals) == accrued_days
        assert set(result.ineligible.values()) <= {DORMANT}

    def test_account_type_filter(self) -> None:
        result = _run(account_types=frozenset({AccountType.FIXED_DEPOSIT}))
        assert (result.accruals, result.postings, set(result.ineligible.values())) == (
            {},
            [],
            {ACCOUNT_TYPE_EXCLUDED},
        )

    def test_rejects_account_that_disagrees_with_its_product(self) -> None:
        with pytest.raises(ValueError, match="disagrees"):
            _run([replace(ACCOUNT, day_count=DayCount.ACT_360)])


class TestCurrencies:
    @pytest.mark.parametrize(("currency", "gross"), [("JPY", "8"), ("USD", "8.49"), ("KWD", "8.493")])
    def test_rounds_to_account_currency(self, currency: str, gross: str) -> None:
        account = replace(ACCOUNT, currency=currency)
        assert f"{_run([account]).postings[0].gross:f}" == gross


class TestEffectiveDatedRates:
    def test_rate_change_mid_month(self) -> None:
        tiers = [*SAVINGS_TIERS, ("SAV", Tier(date(2025, 1, 16), Decimal(0), Decimal("20")))]
        result = _run(tiers=tiers)
        assert result.postings[0].accrued == DAILY_AT_10_PCT * 15 + Decimal("0.5479452055") * 16

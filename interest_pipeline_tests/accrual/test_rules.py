"""Spec §2, rule by rule, through real runs of the job on PostgreSQL."""

from datetime import date, timedelta
from decimal import Decimal

import dagster as dg
import pytest

from interest_pipeline.domain import DayCount, Tier, TierMode, daily_accrual
from interest_pipeline_tests.accrual.book import Book, accrue

D = date(2025, 3, 10)
# 1000 at 3.65 % ACT/365F earns exactly 0.1 a night.
TENTH = Decimal("0.1000000000")


def simple_product(book: Book, code: str = "P", **kwargs: str) -> str:
    return book.product(code, tiers=[("2020-01-01", "0", "3.65")], **kwargs)


class TestEligibilityDates:
    @pytest.mark.parametrize(
        ("opened_on", "accrues"),
        [(D, True), (D + timedelta(days=1), False)],
        ids=["opened-on-D", "opens-after-D"],
    )
    def test_opened_on_at_or_before_d(
        self, book: Book, instance: dg.DagsterInstance, opened_on: date, accrues: bool
    ) -> None:
        book.account(1, simple_product(book), {date(2019, 1, 1): "1000"}, opened_on=opened_on)
        result = accrue(D, instance)
        assert book.accruals(D) == ({1: TENTH} if accrues else {})
        assert set(book.results(result.run_id)) == ({1} if accrues else set())

    @pytest.mark.parametrize(
        ("closed_on", "accrues"),
        [(D, False), (D + timedelta(days=1), True)],
        ids=["closed-on-D", "closes-after-D"],
    )
    def test_closed_accounts_accrue_up_to_closed_on(
        self, book: Book, instance: dg.DagsterInstance, closed_on: date, accrues: bool
    ) -> None:
        book.account(1, simple_product(book), {"2024-01-01": "1000"}, status="CLOSED", closed_on=closed_on)
        accrue(D, instance)
        assert book.accruals(D) == ({1: TENTH} if accrues else {})

    @pytest.mark.parametrize(
        ("maturity", "accrues"),
        [(D, False), (D + timedelta(days=1), True)],
        ids=["matures-on-D", "matures-after-D"],
    )
    def test_accrues_only_before_maturity(
        self, book: Book, instance: dg.DagsterInstance, maturity: date, accrues: bool
    ) -> None:
        book.account(1, simple_product(book), {"2024-01-01": "1000"}, maturity_date=maturity)
        accrue(D, instance)
        assert book.accruals(D) == ({1: TENTH} if accrues else {})


class TestDormantAccounts:
    def test_dormant_account_is_left_out_by_default(self, book: Book, instance: dg.DagsterInstance) -> None:
        book.account(1, simple_product(book), {"2024-01-01": "1000"}, status="DORMANT")
        result = accrue(D, instance)
        assert book.accruals(D) == {}
        assert book.results(result.run_id) == {}

    def test_dormant_account_accrues_with_include_dormant(
        self, book: Book, instance: dg.DagsterInstance
    ) -> None:
        book.account(1, simple_product(book), {"2024-01-01": "1000"}, status="DORMANT")
        result = accrue(D, instance, include_dormant_accounts=True)
        assert book.accruals(D) == {1: TENTH}
        assert book.execution(result.run_id)["include_dormant"] is True

    def test_rerun_without_dormant_removes_the_row_a_run_with_them_wrote(
        self, book: Book, instance: dg.DagsterInstance
    ) -> None:
        # Dormancy is eligibility, not scope: the latest run of D decides, as for a closure.
        product = simple_product(book)
        book.account(1, product, {"2024-01-01": "1000"}, status="DORMANT")
        book.account(2, product, {"2024-01-01": "1000"})
        accrue(D, instance, include_dormant_accounts=True)
        assert book.accruals(D) == {1: TENTH, 2: TENTH}
        rerun = accrue(D, instance)
        assert book.accruals(D) == {2: TENTH}
        explained = book.results(rerun.run_id)[1]
        assert (explained["status"], explained["reason"], explained["previous_amount"]) == (
            "SKIPPED",
            "DORMANT",
            TENTH,
        )
        assert book.execution(rerun.run_id)["accounts_skipped"] == 1

    def test_account_gone_dormant_loses_its_accrual_of_d_on_rerun(
        self, book: Book, instance: dg.DagsterInstance
    ) -> None:
        book.account(1, simple_product(book), {"2024-01-01": "1000"})
        accrue(D, instance)
        book.conn.execute("UPDATE accounts SET status = 'DORMANT' WHERE id = 1")
        accrue(D, instance)
        assert book.accruals(D) == {}


class TestAccountTypes:
    def test_only_products_of_the_configured_account_types_accrue(
        self, book: Book, instance: dg.DagsterInstance
    ) -> None:
        book.account(1, simple_product(book, "S", account_type="SAVINGS"), {"2024-01-01": "1000"})
        book.account(2, simple_product(book, "F", account_type="FIXED_DEPOSIT"), {"2024-01-01": "1000"})
        result = accrue(D, instance, account_types=["FIXED_DEPOSIT"])
        assert book.accruals(D) == {2: TENTH}
        assert set(book.results(result.run_id)) == {2}

    def test_a_narrower_run_leaves_the_accruals_outside_its_scope(
        self, book: Book, instance: dg.DagsterInstance
    ) -> None:
        # Account types are the run's scope (what the completeness check reads off the execution
        # row): a savings-only run of D is not about fixed deposits and leaves their rows of D.
        book.account(1, simple_product(book, "S", account_type="SAVINGS"), {"2024-01-01": "1000"})
        book.account(2, simple_product(book, "F", account_type="FIXED_DEPOSIT"), {"2024-01-01": "1000"})
        accrue(D, instance)
        narrow = accrue(D, instance, account_types=["SAVINGS"])
        assert book.accruals(D) == {1: TENTH, 2: TENTH}
        assert set(book.results(narrow.run_id)) == {1}
        assert book.execution(narrow.run_id)["account_types"] == ["SAVINGS"]


class TestBalanceSnapshots:
    def test_account_without_snapshot_on_or_before_d_is_not_processed(
        self, book: Book, instance: dg.DagsterInstance
    ) -> None:
        book.account(1, simple_product(book), {D + timedelta(days=1): "1000"})
        result = accrue(D, instance)
        assert book.accruals(D) == {}
        assert book.results(result.run_id) == {}

    def test_latest_sparse_snapshot_on_or_before_d_is_the_balance(
        self, book: Book, instance: dg.DagsterInstance
    ) -> None:
        book.account(
            1,
            simple_product(book),
            {"2024-01-01": "5", D - timedelta(days=9): "2000", D + timedelta(days=1): "7"},
        )
        accrue(D, instance)
        assert book.accrual_row(1, D) is not None
        assert book.accrual_row(1, D)["balance"] == Decimal("2000.0000")  # type: ignore[index]
        assert book.accruals(D) == {1: Decimal("0.2000000000")}

    def test_snapshot_dated_d_is_used(self, book: Book, instance: dg.DagsterInstance) -> None:
        book.account(1, simple_product(book), {D - timedelta(days=1): "2000", D: "1000"})
        accrue(D, instance)
        assert book.accruals(D) == {1: TENTH}


class TestSkippedAccounts:
    @pytest.mark.parametrize("balance", ["0", "-250.5000"])
    def test_non_positive_balance_is_skipped(
        self, book: Book, instance: dg.DagsterInstance, balance: str
    ) -> None:
        book.account(1, simple_product(book), {"2024-01-01": balance})
        result = accrue(D, instance)
        assert book.accruals(D) == {}
        row = book.results(result.run_id)[1]
        assert (row["status"], row["reason"], row["amount"]) == ("SKIPPED", "NON_POSITIVE_BALANCE", None)

    def test_balance_below_min_balance_for_interest_is_skipped(
        self, book: Book, instance: dg.DagsterInstance
    ) -> None:
        book.account(1, simple_product(book, min_balance="1000.0001"), {"2024-01-01": "1000"})
        result = accrue(D, instance)
        assert book.accruals(D) == {}
        assert book.results(result.run_id)[1]["reason"] == "BELOW_MIN_BALANCE"

    def test_balance_at_min_balance_earns_on_the_whole_balance(
        self, book: Book, instance: dg.DagsterInstance
    ) -> None:
        book.account(1, simple_product(book, min_balance="1000"), {"2024-01-01": "1000"})
        result = accrue(D, instance)
        assert book.accruals(D) == {1: TENTH}
        assert book.results(result.run_id)[1]["status"] == "SUCCESS"


class TestNoRate:
    def test_account_without_rate_fails_alone_and_run_is_partial(
        self, book: Book, instance: dg.DagsterInstance
    ) -> None:
        book.product("NORATE")
        book.account(1, "NORATE", {"2024-01-01": "1000"})
        book.account(2, simple_product(book), {"2024-01-01": "1000"})
        result = accrue(D, instance)
        assert book.accruals(D) == {2: TENTH}
        failed = book.results(result.run_id)[1]
        assert (failed["status"], failed["reason"]) == ("FAILED", "NO_RATE")
        assert book.execution(result.run_id)["status"] == "PARTIAL"

    def test_schedule_effective_after_d_is_not_in_force(
        self, book: Book, instance: dg.DagsterInstance
    ) -> None:
        book.product("LATER", tiers=[(D + timedelta(days=1), "0", "5")])
        book.account(1, "LATER", {"2024-01-01": "1000"})
        result = accrue(D, instance)
        assert book.results(result.run_id)[1]["reason"] == "NO_RATE"

    def test_rate_override_applies_without_schedule(self, book: Book, instance: dg.DagsterInstance) -> None:
        book.product("NORATE")
        book.account(1, "NORATE", {"2024-01-01": "1000"}, rate_override="3.65")
        accrue(D, instance)
        assert book.accruals(D) == {1: TENTH}


class TestRates:
    def test_schedule_in_force_is_the_latest_effective_on_or_before_d(
        self, book: Book, instance: dg.DagsterInstance
    ) -> None:
        book.product(
            "P",
            tiers=[
                ("2020-01-01", "0", "1"),
                ("2020-01-01", "500", "9"),
                (D, "0", "3.65"),  # replaces the whole older schedule, its 500 tier included
                (D + timedelta(days=1), "0", "20"),
            ],
        )
        book.account(1, "P", {"2024-01-01": "1000"})
        accrue(D, instance)
        assert book.accruals(D) == {1: TENTH}

    def test_rate_override_wins_over_tiers(self, book: Book, instance: dg.DagsterInstance) -> None:
        book.product("P", tiers=[("2020-01-01", "0", "9")])
        book.account(1, "P", {"2024-01-01": "1000"}, rate_override="7.3")
        accrue(D, instance)
        assert book.accruals(D) == {1: Decimal("0.2000000000")}

    @pytest.mark.parametrize(
        ("balance", "rate"),
        [("9999.9999", "1"), ("10000", "2"), ("25000", "3")],
        ids=["below", "at", "above"],
    )
    def test_whole_uses_the_tier_with_greatest_min_balance_at_or_below_b(
        self, book: Book, instance: dg.DagsterInstance, balance: str, rate: str
    ) -> None:
        book.product(
            "W", tiers=[("2020-01-01", "0", "1"), ("2020-01-01", "10000", "2"), ("2020-01-01", "20000", "3")]
        )
        book.account(1, "W", {"2024-01-01": balance})
        accrue(D, instance)
        expected = daily_accrual(
            Decimal(balance), DayCount.ACT_365F, D, TierMode.WHOLE, [Tier(D, Decimal(0), Decimal(rate))], None
        )
        assert book.accruals(D) == {1: expected}

    def test_banded_pays_each_band_at_its_rate(self, book: Book, instance: dg.DagsterInstance) -> None:
        book.product(
            "B",
            tier_mode="BANDED",
            tiers=[("2020-01-01", "0", "1"), ("2020-01-01", "10000", "2"), ("2020-01-01", "20000", "3.65")],
        )
        book.account(1, "B", {"2024-01-01": "30000"})
        accrue(D, instance)
        # (10000 * 1 + 10000 * 2 + 10000 * 3.65) / 100 / 365
        assert book.accruals(D) == {1: Decimal("1.8219178082")}


def _amount(day_count: str, day: date) -> Decimal | None:
    return daily_accrual(
        Decimal("1000"),
        DayCount(day_count),
        day,
        TierMode.WHOLE,
        [Tier(date(2020, 1, 1), Decimal(0), Decimal("36"))],
        None,
    )


DAY_COUNT_CASES = [
    ("30/360", date(2025, 1, 30), Decimal("0E-10")),
    ("30/360", date(2025, 1, 31), Decimal("1.0000000000")),
    ("30/360", date(2025, 2, 28), Decimal("3.0000000000")),
    ("30/360", date(2024, 2, 28), Decimal("1.0000000000")),
    ("30/360", date(2024, 2, 29), Decimal("2.0000000000")),
    ("30/360", date(2025, 4, 30), Decimal("1.0000000000")),
    ("30/360", date(2025, 12, 31), Decimal("1.0000000000")),
    ("ACT/ACT", date(2024, 12, 31), Decimal("0.9836065574")),
    ("ACT/ACT", date(2023, 12, 31), Decimal("0.9863013699")),
    ("ACT/365F", date(2024, 2, 29), Decimal("0.9863013699")),
    ("ACT/360", date(2024, 2, 29), Decimal("1.0000000000")),
]


class TestDayCounts:
    @pytest.mark.parametrize(
        ("day_count", "day", "expected"), DAY_COUNT_CASES, ids=[f"{c[0]}-{c[1]}" for c in DAY_COUNT_CASES]
    )
    def test_night_fraction(
        self, book: Book, instance: dg.DagsterInstance, day_count: str, day: date, expected: Decimal
    ) -> None:
        # 1000 at 36 % a year: one 360th of a year earns exactly 1.
        book.product("P", day_count=day_count, tiers=[("2020-01-01", "0", "36")])
        book.account(1, "P", {"2020-01-01": "1000"})
        accrue(day, instance)
        assert book.accruals(day) == {1: expected}
        assert expected == _amount(day_count, day)

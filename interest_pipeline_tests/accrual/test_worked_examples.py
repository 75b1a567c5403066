"""Spec §6: every accrual worked example, each as product + account + balance, through a real run."""

from decimal import Decimal

import dagster as dg
import pytest

from interest_pipeline_tests.accrual.book import Book, accrue

# (balance, tier_mode, tiers as (min_balance, rate), day_count, D, expected accrual)
EXAMPLES = [
    ("10000.0000", "WHOLE", [("0", "3.65")], "ACT/365F", "2026-03-10", "1.0000000000"),
    ("1000.0000", "WHOLE", [("0", "10")], "ACT/365F", "2024-02-29", "0.2739726027"),
    ("1000.0000", "WHOLE", [("0", "10")], "ACT/ACT", "2024-02-29", "0.2732240437"),
    ("1000.0000", "WHOLE", [("0", "10")], "ACT/360", "2025-06-01", "0.2777777778"),
    ("1000.0000", "WHOLE", [("0", "12")], "30/360", "2025-01-30", "0.0000000000"),
    ("1000.0000", "WHOLE", [("0", "12")], "30/360", "2025-01-31", "0.3333333333"),
    ("1000.0000", "WHOLE", [("0", "12")], "30/360", "2025-02-28", "1.0000000000"),
    ("50452.2090", "WHOLE", [("0", "4.525")], "ACT/360", "2025-02-26", "6.3415623812"),
    ("69033.9105", "WHOLE", [("0", "0.01")], "30/360", "2024-06-24", "0.0191760862"),
    ("15000.0000", "BANDED", [("0", "1"), ("10000", "2")], "ACT/365F", "2025-09-17", "0.5479452055"),
    ("15000.0000", "WHOLE", [("0", "1"), ("10000", "2")], "ACT/365F", "2025-09-17", "0.8219178082"),
]


class TestWorkedExamples:
    @pytest.mark.parametrize(
        ("balance", "tier_mode", "tiers", "day_count", "day", "expected"),
        EXAMPLES,
        ids=[f"{e[0]}-{e[1]}-{e[3]}-{e[4]}" for e in EXAMPLES],
    )
    def test_stored_amount_is_exact(
        self,
        book: Book,
        instance: dg.DagsterInstance,
        balance: str,
        tier_mode: str,
        tiers: list[tuple[str, str]],
        day_count: str,
        day: str,
        expected: str,
    ) -> None:
        book.product(
            "P", day_count=day_count, tier_mode=tier_mode, tiers=[("2020-01-01", m, r) for m, r in tiers]
        )
        book.account(1, "P", {"2024-01-01": balance})

        result = accrue(day, instance)

        stored = book.accruals(day)
        assert stored == {1: Decimal(expected)}
        assert f"{stored[1]:f}" == expected  # all ten decimals, exactly
        assert book.results(result.run_id)[1]["amount"] == Decimal(expected)

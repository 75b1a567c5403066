"""Exact ties at the 11th decimal: the SQL's last division and half-even rounding against the domain core."""

import random
from datetime import date
from decimal import Decimal

import dagster as dg

from interest_pipeline.domain import DayCount, Tier, TierMode, daily_accrual, night_basis, night_day_count
from interest_pipeline_tests.accrual.book import Book, accrue

D = date(2025, 2, 28)  # 30/360 counts 3 days here, so all three numerators differ from 1 somewhere


def _ties(rng: random.Random, day_count: DayCount, wanted: int) -> list[tuple[Decimal, Decimal]]:
    """(balance, rate) pairs whose exact accrual on D ends in 5 at the 11th decimal, both parities."""
    numerator, basis = night_day_count(day_count, D), night_basis(day_count, D)
    found: list[tuple[Decimal, Decimal]] = []
    parities: set[int] = set()
    while len(found) < wanted or len(parities) < 2:
        rate_units = rng.randint(1, 9_999_999)  # rate * 10^6
        start = rng.randint(10_000, 10**12)  # balance * 10^4
        for balance_units in range(start, start + 50_000):
            # accrual * 10^10 = balance_units * rate_units * numerator / (100 * basis)
            scaled = balance_units * rate_units * numerator
            whole, rest = divmod(scaled, 100 * basis)
            if 2 * rest == 100 * basis:
                found.append((Decimal(balance_units).scaleb(-4), Decimal(rate_units).scaleb(-6)))
                parities.add(whole % 2)
                break
    return found


class TestExactTies:
    def test_ties_round_half_even_like_the_domain_core(
        self, book: Book, instance: dg.DagsterInstance
    ) -> None:
        rng = random.Random(7)
        cases: list[tuple[int, DayCount, Decimal, Decimal]] = []
        for day_count in DayCount:
            code = book.product(
                f"P-{day_count.value}", day_count=day_count.value, tiers=[("2020-01-01", "0", "1")]
            )
            for balance, rate in _ties(rng, day_count, 6):
                account_id = len(cases) + 1
                book.account(account_id, code, {"2024-01-01": str(balance)}, rate_override=str(rate))
                cases.append((account_id, day_count, balance, rate))

        accrue(D, instance)

        stored = book.accruals(D)
        expected = {
            account_id: daily_accrual(
                balance, day_count, D, TierMode.WHOLE, [Tier(D, Decimal(0), rate)], rate
            )
            for account_id, day_count, balance, rate in cases
        }
        assert stored == expected
        # PostgreSQL's round() (half away from zero) would have got some of them wrong
        half_up = {
            a: book.conn.execute(
                "SELECT round(%s::numeric * %s * %s / (100 * %s), 10)",
                (b, r, night_day_count(dc, D), night_basis(dc, D)),
            ).fetchone()[0]  # type: ignore[index]
            for a, dc, b, r in cases
        }
        assert sum(half_up[a] != stored[a] for a in stored) >= len(DayCount)

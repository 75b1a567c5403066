"""A generated book accrued by the real job over ~40 dates, reconciled with the domain core to the last digit."""

import random
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import dagster as dg
import psycopg

from interest_pipeline.domain import (
    AccountFacts,
    AccountStatus,
    AccountType,
    AccrualKind,
    DayCount,
    PostingFrequency,
    ProductFacts,
    Tier,
    TierMode,
    accrual_decision,
)
from interest_pipeline_tests.accrual.book import Book, accrue


def _window(start: date, days: int) -> list[date]:
    return [start + timedelta(days=i) for i in range(days)]


# Feb 28/29 of a leap year, a year end (ACT/ACT), a non-leap February end, 31- and 30-day month ends.
DATES = (
    _window(date(2024, 2, 20), 15)
    + _window(date(2024, 12, 26), 10)
    + _window(date(2025, 2, 25), 7)
    + _window(date(2025, 4, 29), 3)
    + _window(date(2025, 5, 29), 5)
)
ACCOUNTS = 300


def _money(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randint(low * 10_000, high * 10_000)).scaleb(-4)


def _rate(rng: random.Random) -> Decimal:
    return Decimal(rng.randint(0, 9_999_999)).scaleb(-6)


def _generate(rng: random.Random) -> tuple[list[ProductFacts], list[tuple[str, Tier]]]:
    products: list[ProductFacts] = []
    tiers: list[tuple[str, Tier]] = []
    for n, (day_count, tier_mode) in enumerate(
        (dc, tm) for dc in DayCount for tm in TierMode for _ in range(2)
    ):
        code = f"P{n:02d}"
        products.append(
            ProductFacts(
                code=code,
                account_type=list(AccountType)[n % 3],
                day_count=day_count,
                posting_frequency=PostingFrequency.MONTHLY,
                tier_mode=tier_mode,
                min_balance_for_interest=_money(rng, 0, 500) if n % 3 == 0 else None,
            )
        )
        # n % 5 == 4: no schedule before 2024-12-31 (NO_RATE until then); otherwise one from 2020
        # and a change on a date inside the windows.
        starts = [date(2024, 12, 31)] if n % 5 == 4 else [date(2020, 1, 1), rng.choice(DATES)]
        for effective_from in starts:
            minimums = sorted({Decimal(0), *(_money(rng, 1, 60_000) for _ in range(rng.randint(0, 3)))})
            tiers.extend((code, Tier(effective_from, m, _rate(rng))) for m in minimums)
    return products, tiers


def _accounts(
    rng: random.Random, products: list[ProductFacts]
) -> tuple[list[AccountFacts], dict[int, list[tuple[date, Decimal]]]]:
    accounts: list[AccountFacts] = []
    balances: dict[int, list[tuple[date, Decimal]]] = {}
    for account_id in range(1, ACCOUNTS + 1):
        product = rng.choice(products)
        opened = rng.choice([date(2023, 6, 1), rng.choice(DATES)])
        status = rng.choices(list(AccountStatus), weights=[8, 1, 1])[0]
        closed = (
            rng.choice([d for d in DATES if d >= opened] or [opened])
            if status is AccountStatus.CLOSED
            else None
        )
        maturity = rng.choice([d for d in DATES if d > opened] or [None]) if rng.random() < 0.1 else None
        accounts.append(
            AccountFacts.of(
                product,
                id=account_id,
                currency=rng.choice(["USD", "EUR", "JPY", "KWD"]),
                opened_on=opened,
                status=status,
                closed_on=closed,
                maturity_date=maturity,
                rate_override=_rate(rng) if rng.random() < 0.1 else None,
            )
        )
        snapshot_dates = sorted(
            set(rng.sample(DATES, rng.randint(0, 6)) + [date(2023, 12, 31)] * rng.randint(0, 1))
        )
        balances[account_id] = [
            (d, rng.choice([Decimal(0), -_money(rng, 1, 100), _money(rng, 1, 100), _money(rng, 100, 90_000)]))
            for d in snapshot_dates
        ]
    return accounts, balances


def _store(
    conn: psycopg.Connection,
    products: list[ProductFacts],
    tiers: list[tuple[str, Tier]],
    accounts: list[AccountFacts],
    balances: dict[int, list[tuple[date, Decimal]]],
) -> None:
    book = Book(conn)
    for p in products:
        book.product(
            p.code,
            day_count=p.day_count.value,
            tier_mode=p.tier_mode.value,
            account_type=p.account_type.value,
            min_balance=str(p.min_balance_for_interest) if p.min_balance_for_interest is not None else None,
        )
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO interest_rate_tiers VALUES (%s, %s, %s, %s)",
            [(code, t.effective_from, t.min_balance, t.annual_rate) for code, t in tiers],
        )
        cur.executemany(
            "INSERT INTO accounts (id, account_number, product_code, currency, status, opened_on, closed_on,"
            " maturity_date, rate_override) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    a.id,
                    f"R{a.id}",
                    a.product_code,
                    a.currency,
                    a.status.value,
                    a.opened_on,
                    a.closed_on,
                    a.maturity_date,
                    a.rate_override,
                )
                for a in accounts
            ],
        )
        cur.executemany(
            "INSERT INTO account_balances VALUES (%s, %s, %s)",
            [(a, d, b) for a, rows in balances.items() for d, b in rows],
        )


def _balance_on(rows: list[tuple[date, Decimal]], day: date) -> Decimal | None:
    earlier = [b for d, b in rows if d <= day]
    return earlier[-1] if earlier else None


class TestReconciliationWithDomainCore:
    def test_every_account_and_date_matches_the_domain_core(
        self, book: Book, instance: dg.DagsterInstance
    ) -> None:
        rng = random.Random(20250226)
        products, tiers = _generate(rng)
        accounts, balances = _accounts(rng, products)
        _store(book.conn, products, tiers, accounts, balances)
        schedules: dict[str, list[Tier]] = defaultdict(list)
        for code, tier in tiers:
            schedules[code].append(tier)

        for day in DATES:
            accrue(day, instance, batch_size=64)

        stored = {
            (a, d): amount
            for a, d, amount in book.conn.execute(
                "SELECT account_id, accrual_date, amount FROM interest_accruals"
            )
        }
        results = {
            (a, d): (status, reason)
            for a, d, status, reason in book.conn.execute(
                "SELECT account_id, business_date, status, reason FROM interest_batch_account_result"
            )
        }
        expected_accruals: dict[tuple[int, date], Decimal] = {}
        expected_results: dict[tuple[int, date], tuple[str, str | None]] = {}
        for account in accounts:
            for day in DATES:
                decision = accrual_decision(
                    account,
                    _balance_on(balances[account.id], day),
                    day,
                    include_dormant=False,
                    account_types=frozenset(AccountType),
                    schedule=schedules[account.product_code],
                )
                key = (account.id, day)
                if decision.kind is AccrualKind.ACCRUE:
                    assert decision.amount is not None
                    expected_accruals[key] = decision.amount
                    expected_results[key] = ("SUCCESS", None)
                elif decision.kind is not AccrualKind.INELIGIBLE:
                    expected_results[key] = (decision.kind.value, decision.reason)

        assert stored == expected_accruals
        assert results == expected_results
        kinds = {status for status, _ in expected_results.values()}
        reasons = {reason for _, reason in expected_results.values()}
        # the book exercises every outcome
        assert kinds == {"SUCCESS", "SKIPPED", "FAILED"}
        assert {"NON_POSITIVE_BALANCE", "BELOW_MIN_BALANCE", "NO_RATE"} <= reasons
        assert len(expected_accruals) > 2000

"""Reference simulator: the oracle the database tests compare the pipeline's tables with.

It runs the accrual job and then the posting job for every date of a range, in order, over
in-memory inputs. It is deliberately plain: every rule comes from the other domain modules.
Accruals are never repaired here, so an account with a FAILED date stops posting for good.
"""

import bisect
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from interest_pipeline.domain.calendar import is_final_posting, posting_due
from interest_pipeline.domain.eligibility import accrual_decision
from interest_pipeline.domain.enums import AccountType, AccrualKind
from interest_pipeline.domain.posting import Posting, compute_posting
from interest_pipeline.domain.rates import Tier
from interest_pipeline.domain.types import AccountFacts, ProductFacts

AccountDay = tuple[int, date]


@dataclass
class SimulationResult:
    accruals: dict[AccountDay, Decimal] = field(default_factory=dict)
    accrual_balances: dict[AccountDay, Decimal] = field(default_factory=dict)
    skipped: dict[AccountDay, str] = field(default_factory=dict)
    failed: dict[AccountDay, str] = field(default_factory=dict)
    ineligible: dict[AccountDay, str] = field(default_factory=dict)
    postings: list[Posting] = field(default_factory=list)
    # (account_id, P) -> the FAILED accrual dates that blocked the posting due on P.
    posting_failures: dict[AccountDay, list[date]] = field(default_factory=dict)
    # (account_id, accrual date) -> the posting date that capitalized it.
    capitalization_dates: dict[AccountDay, date] = field(default_factory=dict)


class _BalanceHistory:
    def __init__(self, snapshots: Iterable[tuple[date, Decimal]]) -> None:
        ordered = sorted(snapshots)
        self._dates = [d for d, _ in ordered]
        self._balances = [b for _, b in ordered]

    def on(self, d: date) -> Decimal | None:
        """The closing balance of the snapshot with the greatest date <= d."""
        index = bisect.bisect_right(self._dates, d)
        return self._balances[index - 1] if index else None


@dataclass
class _Pending:
    """What an account has accrued or failed since its previous posting."""

    accruals: list[tuple[date, Decimal]] = field(default_factory=list)
    failed_dates: list[date] = field(default_factory=list)
    carry: Decimal = Decimal("0E-10")


def _check_products(accounts: Sequence[AccountFacts], products: Mapping[str, ProductFacts]) -> None:
    for account in accounts:
        if products.get(account.product_code) != account.product:
            raise ValueError(f"account {account.id} disagrees with product {account.product_code!r}")


def simulate(
    *,
    products: Mapping[str, ProductFacts],
    tiers: Iterable[tuple[str, Tier]],
    accounts: Sequence[AccountFacts],
    balances: Mapping[int, Iterable[tuple[date, Decimal]]],
    minor_units: Mapping[str, int],
    start: date,
    end: date,
    include_dormant: bool = False,
    account_types: Collection[AccountType] = frozenset(AccountType),
) -> SimulationResult:
    """Accrue every date of [start, end], then post what is due on that date."""
    _check_products(accounts, products)
    tiers_by_product: dict[str, list[Tier]] = defaultdict(list)
    for product_code, tier in tiers:
        tiers_by_product[product_code].append(tier)
    histories = {account.id: _BalanceHistory(balances.get(account.id, ())) for account in accounts}
    ordered_accounts = sorted(accounts, key=lambda a: a.id)
    pending = {account.id: _Pending() for account in accounts}
    result = SimulationResult()

    day = start
    while day <= end:
        for account in ordered_accounts:
            _accrue(
                result,
                pending[account.id],
                account,
                histories[account.id].on(day),
                day,
                include_dormant=include_dormant,
                account_types=account_types,
                schedule=tiers_by_product[account.product_code],
            )
        for account in ordered_accounts:
            _post(result, pending[account.id], account, day, minor_units[account.currency])
        day += timedelta(days=1)
    return result


def _accrue(
    result: SimulationResult,
    pending: _Pending,
    account: AccountFacts,
    balance: Decimal | None,
    day: date,
    *,
    include_dormant: bool,
    account_types: Collection[AccountType],
    schedule: Sequence[Tier],
) -> None:
    key = (account.id, day)
    decision = accrual_decision(
        account, balance, day, include_dormant=include_dormant, account_types=account_types, schedule=schedule
    )
    match decision.kind:
        case AccrualKind.ACCRUE:
            assert decision.amount is not None and balance is not None
            result.accruals[key] = decision.amount
            result.accrual_balances[key] = balance
            pending.accruals.append((day, decision.amount))
        case AccrualKind.SKIPPED:
            result.skipped[key] = decision.reason or ""
        case AccrualKind.FAILED:
            result.failed[key] = decision.reason or ""
            pending.failed_dates.append(day)
        case AccrualKind.INELIGIBLE:
            result.ineligible[key] = decision.reason or ""


def _post(
    result: SimulationResult, pending: _Pending, account: AccountFacts, day: date, minor_units: int
) -> None:
    if not posting_due(
        account.posting_frequency, day, maturity_date=account.maturity_date, closed_on=account.closed_on
    ):
        return
    if pending.failed_dates:
        result.posting_failures[(account.id, day)] = list(pending.failed_dates)
        return
    posting = compute_posting(
        account_id=account.id,
        posting_date=day,
        currency=account.currency,
        minor_units=minor_units,
        carry_in=pending.carry,
        accrual_amounts=[amount for _, amount in pending.accruals],
        withholding_tax_rate=account.withholding_tax_rate,
        is_final=is_final_posting(day, maturity_date=account.maturity_date, closed_on=account.closed_on),
    )
    if posting is None:
        return
    if any(p.idempotency_key == posting.idempotency_key for p in result.postings):
        raise ValueError(f"second posting with key {posting.idempotency_key}: inconsistent inputs")
    result.postings.append(posting)
    for accrual_date, _ in pending.accruals:
        result.capitalization_dates[(account.id, accrual_date)] = day
    pending.accruals.clear()
    pending.carry = posting.carry_out

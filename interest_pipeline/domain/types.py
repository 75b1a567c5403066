"""Facts about products and accounts, as read from the core-banking input tables (spec §1)."""

from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal

from interest_pipeline.domain.enums import AccountStatus, AccountType, DayCount, PostingFrequency, TierMode


@dataclass(frozen=True)
class ProductFacts:
    """One `interest_products` row; rates are percents."""

    code: str
    account_type: AccountType
    day_count: DayCount
    posting_frequency: PostingFrequency
    tier_mode: TierMode
    min_balance_for_interest: Decimal | None = None
    withholding_tax_rate: Decimal = Decimal(0)


@dataclass(frozen=True)
class AccountFacts:
    """One `accounts` row joined with its product: everything the daily decision needs."""

    id: int
    product_code: str
    currency: str
    status: AccountStatus
    opened_on: date
    closed_on: date | None
    maturity_date: date | None
    rate_override: Decimal | None
    account_type: AccountType
    day_count: DayCount
    posting_frequency: PostingFrequency
    tier_mode: TierMode
    min_balance_for_interest: Decimal | None
    withholding_tax_rate: Decimal

    @classmethod
    def of(
        cls,
        product: ProductFacts,
        *,
        id: int,
        currency: str,
        opened_on: date,
        status: AccountStatus = AccountStatus.ACTIVE,
        closed_on: date | None = None,
        maturity_date: date | None = None,
        rate_override: Decimal | None = None,
    ) -> "AccountFacts":
        return cls(
            id=id,
            product_code=product.code,
            currency=currency,
            status=status,
            opened_on=opened_on,
            closed_on=closed_on,
            maturity_date=maturity_date,
            rate_override=rate_override,
            **{name: getattr(product, name) for name in _PRODUCT_TERMS},
        )

    @property
    def product(self) -> ProductFacts:
        return ProductFacts(code=self.product_code, **{name: getattr(self, name) for name in _PRODUCT_TERMS})


# The product's fields an account carries under the same names (all but `code`, its product_code):
# one list for both directions, so a new product term cannot be copied one way and not the other.
_PRODUCT_TERMS = tuple(f.name for f in fields(ProductFacts) if f.name != "code")

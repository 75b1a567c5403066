"""When an account is due for posting (spec §3)."""

import calendar as _stdlib_calendar
from datetime import date

from interest_pipeline.domain.enums import PostingFrequency

_PERIOD_END_MONTHS: dict[PostingFrequency, frozenset[int]] = {
    PostingFrequency.MONTHLY: frozenset(range(1, 13)),
    PostingFrequency.QUARTERLY: frozenset({3, 6, 9, 12}),
    PostingFrequency.SEMI_ANNUAL: frozenset({6, 12}),
    PostingFrequency.ANNUAL: frozenset({12}),
}


def is_month_end(p: date) -> bool:
    return p.day == _stdlib_calendar.monthrange(p.year, p.month)[1]


def is_period_end(frequency: PostingFrequency, p: date, maturity_date: date | None) -> bool:
    if frequency is PostingFrequency.AT_MATURITY:
        return p == maturity_date
    return p.month in _PERIOD_END_MONTHS[frequency] and is_month_end(p)


def is_final_posting(p: date, *, maturity_date: date | None, closed_on: date | None) -> bool:
    """P is the day the account ends: the earlier of maturity and closure. The later of the two
    is no end of anything (an account closed before it matures, or matured before it is closed,
    ended on the first), so it is no posting date either."""
    return p == ended_on(maturity_date=maturity_date, closed_on=closed_on)


def ended_on(*, maturity_date: date | None, closed_on: date | None) -> date | None:
    """The day the account's life ends (the earlier of maturity and closure), if it does."""
    ends = [d for d in (maturity_date, closed_on) if d is not None]
    return min(ends) if ends else None


def posting_due(
    frequency: PostingFrequency, p: date, *, maturity_date: date | None, closed_on: date | None
) -> bool:
    """Due on P: P ends one of the account's posting periods, or the account ends on P.

    A period end after the account ended is none of its periods: the final posting is its last.
    """
    end = ended_on(maturity_date=maturity_date, closed_on=closed_on)
    in_life = end is None or p <= end
    return (in_life and is_period_end(frequency, p, maturity_date)) or is_final_posting(
        p, maturity_date=maturity_date, closed_on=closed_on
    )

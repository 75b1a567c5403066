"""Day-count conventions, as QuantLib computes them (spec §2), in exact integers and fractions.

The SQL side multiplies by the day count and divides by the basis last, so both halves are
exposed separately besides the combined Fraction.
"""

import calendar
from datetime import date, timedelta
from fractions import Fraction

from interest_pipeline.domain.enums import DayCount

_ONE_DAY = timedelta(days=1)


def days_in_year(year: int) -> int:
    return 366 if calendar.isleap(year) else 365


def thirty_360_days(start: date, end: date) -> int:
    """US bond basis (QuantLib Thirty360.BondBasis): d1=min(d1,30); if d1==30 then d2=min(d2,30)."""
    d1 = min(start.day, 30)
    d2 = min(end.day, 30) if d1 == 30 else end.day
    return 360 * (end.year - start.year) + 30 * (end.month - start.month) + (d2 - d1)


def _days_between(convention: DayCount, start: date, end: date) -> int:
    if convention is DayCount.THIRTY_360:
        return thirty_360_days(start, end)
    return (end - start).days


def day_count(day_count: DayCount, start: date, end: date) -> int:
    """The convention's day count between the dates (QuantLib `dayCount`); actual days for ACT/ACT."""
    return _days_between(day_count, start, end)


def night_day_count(day_count: DayCount, d: date) -> int:
    """Numerator of the year fraction of the night D -> D+1."""
    return _days_between(day_count, d, d + _ONE_DAY)


def night_basis(day_count: DayCount, d: date) -> int:
    """Denominator of the year fraction of the night D -> D+1."""
    match day_count:
        case DayCount.ACT_365F:
            return 365
        case DayCount.ACT_360 | DayCount.THIRTY_360:
            return 360
        case DayCount.ACT_ACT:
            # ISDA: the night lies wholly in D's year, even on Dec 31.
            return days_in_year(d.year)


def night_fraction(day_count: DayCount, d: date) -> Fraction:
    """Year fraction of the night D -> D+1."""
    return Fraction(night_day_count(day_count, d), night_basis(day_count, d))


def year_fraction(day_count: DayCount, start: date, end: date) -> Fraction:
    """Year fraction of any period; negative when end < start, as in QuantLib."""
    match day_count:
        case DayCount.ACT_365F:
            return Fraction(_days_between(day_count, start, end), 365)
        case DayCount.ACT_360 | DayCount.THIRTY_360:
            return Fraction(_days_between(day_count, start, end), 360)
        case DayCount.ACT_ACT:
            return _act_act_isda(start, end)


def _act_act_isda(start: date, end: date) -> Fraction:
    if end < start:
        return -_act_act_isda(end, start)
    total = Fraction(0)
    for year in range(start.year, end.year + 1):
        part_start = max(start, date(year, 1, 1))
        part_end = min(end, date(year + 1, 1, 1)) if year < date.max.year else end
        total += Fraction((part_end - part_start).days, days_in_year(year))
    return total

import random
from collections.abc import Iterator
from datetime import date, timedelta
from fractions import Fraction

import pytest
import QuantLib as ql  # type: ignore[import-untyped]

from interest_pipeline.domain import (
    DayCount,
    day_count,
    night_basis,
    night_day_count,
    night_fraction,
    year_fraction,
)

_ONE_DAY = timedelta(days=1)
# QuantLib returns floats; these tolerances exist only here, never in the package.
_TOLERANCE = 1e-15


def _quantlib(convention: DayCount) -> ql.DayCounter:
    return {
        DayCount.ACT_365F: ql.Actual365Fixed(),
        DayCount.ACT_360: ql.Actual360(),
        DayCount.THIRTY_360: ql.Thirty360(ql.Thirty360.BondBasis),
        DayCount.ACT_ACT: ql.ActualActual(ql.ActualActual.ISDA),
    }[convention]


def _ql_date(d: date) -> ql.Date:
    return ql.Date(d.day, d.month, d.year)


def _days_of(year: int) -> Iterator[date]:
    d = date(year, 1, 1)
    while d.year == year:
        yield d
        d += _ONE_DAY


def _sample_periods(count: int) -> list[tuple[date, date]]:
    rng = random.Random(20250101)
    origin = date(2022, 1, 1)
    periods = []
    for _ in range(count):
        start = origin + timedelta(days=rng.randrange(0, 365 * 8))
        periods.append((start, start + timedelta(days=rng.randrange(-400, 1200))))
    return periods


def _month_boundary_periods() -> list[tuple[date, date]]:
    edges = [d for year in (2023, 2024) for d in _days_of(year) if d.day >= 28 or d.day == 1]
    rng = random.Random(360)
    return [(rng.choice(edges), rng.choice(edges)) for _ in range(300)]


class TestNightFractionAgainstQuantLib:
    @pytest.mark.parametrize("year", range(2023, 2029))
    @pytest.mark.parametrize("convention", list(DayCount))
    def test_matches_quantlib_year_fraction(self, convention: DayCount, year: int) -> None:
        counter = _quantlib(convention)
        for d in _days_of(year):
            expected = counter.yearFraction(_ql_date(d), _ql_date(d + _ONE_DAY))
            assert abs(float(night_fraction(convention, d)) - expected) < _TOLERANCE, d

    @pytest.mark.parametrize("year", range(2023, 2029))
    @pytest.mark.parametrize("convention", list(DayCount))
    def test_numerator_matches_quantlib_day_count(self, convention: DayCount, year: int) -> None:
        counter = _quantlib(convention)
        for d in _days_of(year):
            assert night_day_count(convention, d) == counter.dayCount(_ql_date(d), _ql_date(d + _ONE_DAY)), d

    @pytest.mark.parametrize("year", range(2023, 2029))
    @pytest.mark.parametrize("convention", list(DayCount))
    def test_basis_recovers_quantlib_fraction(self, convention: DayCount, year: int) -> None:
        counter = _quantlib(convention)
        for d in _days_of(year):
            days = counter.dayCount(_ql_date(d), _ql_date(d + _ONE_DAY))
            expected = counter.yearFraction(_ql_date(d), _ql_date(d + _ONE_DAY))
            assert abs(days / night_basis(convention, d) - expected) < _TOLERANCE, d


class TestNightFraction:
    @pytest.mark.parametrize(
        ("convention", "day", "expected"),
        [
            (DayCount.ACT_365F, date(2024, 2, 29), Fraction(1, 365)),
            (DayCount.ACT_365F, date(2025, 3, 10), Fraction(1, 365)),
            (DayCount.ACT_360, date(2025, 6, 1), Fraction(1, 360)),
            (DayCount.ACT_ACT, date(2024, 2, 29), Fraction(1, 366)),
            (DayCount.ACT_ACT, date(2024, 12, 31), Fraction(1, 366)),
            (DayCount.ACT_ACT, date(2025, 1, 1), Fraction(1, 365)),
            (DayCount.ACT_ACT, date(2025, 12, 31), Fraction(1, 365)),
            (DayCount.THIRTY_360, date(2025, 1, 29), Fraction(1, 360)),
            (DayCount.THIRTY_360, date(2025, 1, 30), Fraction(0)),
            (DayCount.THIRTY_360, date(2025, 1, 31), Fraction(1, 360)),
            (DayCount.THIRTY_360, date(2025, 4, 30), Fraction(1, 360)),
            (DayCount.THIRTY_360, date(2025, 2, 27), Fraction(1, 360)),
            (DayCount.THIRTY_360, date(2025, 2, 28), Fraction(3, 360)),
            (DayCount.THIRTY_360, date(2024, 2, 28), Fraction(1, 360)),
            (DayCount.THIRTY_360, date(2024, 2, 29), Fraction(2, 360)),
            (DayCount.THIRTY_360, date(2024, 12, 30), Fraction(0)),
            (DayCount.THIRTY_360, date(2024, 12, 31), Fraction(1, 360)),
        ],
    )
    def test_spec_day_fractions(self, convention: DayCount, day: date, expected: Fraction) -> None:
        assert night_fraction(convention, day) == expected

    @pytest.mark.parametrize("year", [2023, 2024])
    def test_thirty_360_month_sums_to_thirty_days(self, year: int) -> None:
        for month in range(1, 13):
            days = [d for d in _days_of(year) if d.month == month]
            assert sum(night_day_count(DayCount.THIRTY_360, d) for d in days) == 30

    @pytest.mark.parametrize("convention", list(DayCount))
    def test_is_year_fraction_of_one_night(self, convention: DayCount) -> None:
        for d in _days_of(2024):
            assert night_fraction(convention, d) == year_fraction(convention, d, d + _ONE_DAY)


class TestYearFraction:
    @pytest.mark.parametrize("convention", list(DayCount))
    def test_matches_quantlib_over_arbitrary_periods(self, convention: DayCount) -> None:
        counter = _quantlib(convention)
        for start, end in _sample_periods(300):
            expected = counter.yearFraction(_ql_date(start), _ql_date(end))
            assert abs(float(year_fraction(convention, start, end)) - expected) < 1e-13, (start, end)

    @pytest.mark.parametrize("convention", list(DayCount))
    def test_day_count_matches_quantlib_over_arbitrary_periods(self, convention: DayCount) -> None:
        counter = _quantlib(convention)
        for start, end in _sample_periods(300):
            assert day_count(convention, start, end) == counter.dayCount(_ql_date(start), _ql_date(end))

    def test_thirty_360_matches_quantlib_across_month_boundaries(self) -> None:
        counter = _quantlib(DayCount.THIRTY_360)
        for start, end in _month_boundary_periods():
            assert day_count(DayCount.THIRTY_360, start, end) == counter.dayCount(
                _ql_date(start), _ql_date(end)
            )
            assert year_fraction(DayCount.THIRTY_360, start, end) == Fraction(
                counter.dayCount(_ql_date(start), _ql_date(end)), 360
            )

    @pytest.mark.parametrize(
        ("start", "end", "expected"),
        [
            (date(2024, 12, 31), date(2025, 1, 1), Fraction(1, 366)),
            (date(2024, 7, 1), date(2025, 7, 1), Fraction(184, 366) + Fraction(181, 365)),
            (date(2023, 1, 1), date(2025, 1, 1), Fraction(2)),
            (date(2025, 1, 1), date(2024, 12, 31), -Fraction(1, 366)),
            (date(2025, 1, 1), date(2025, 1, 1), Fraction(0)),
        ],
    )
    def test_act_act_isda_splits_across_years(self, start: date, end: date, expected: Fraction) -> None:
        assert year_fraction(DayCount.ACT_ACT, start, end) == expected

    @pytest.mark.parametrize(
        ("start", "end", "days"),
        [
            (date(2025, 1, 31), date(2025, 2, 28), 28),
            (date(2025, 1, 30), date(2025, 3, 31), 60),
            (date(2025, 1, 29), date(2025, 3, 31), 62),
            (date(2025, 2, 28), date(2025, 3, 31), 33),
            (date(2025, 3, 1), date(2025, 2, 28), -3),
        ],
    )
    def test_thirty_360_bond_basis(self, start: date, end: date, days: int) -> None:
        assert year_fraction(DayCount.THIRTY_360, start, end) == Fraction(days, 360)

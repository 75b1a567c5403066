from datetime import date

import pytest

from interest_pipeline.domain import PostingFrequency, is_final_posting, is_period_end, posting_due

F = PostingFrequency
MATURITY = date(2025, 8, 14)


class TestIsPeriodEnd:
    @pytest.mark.parametrize(
        ("frequency", "p", "expected"),
        [
            (F.MONTHLY, date(2025, 1, 31), True),
            (F.MONTHLY, date(2025, 1, 30), False),
            (F.MONTHLY, date(2025, 2, 28), True),
            (F.MONTHLY, date(2024, 2, 28), False),
            (F.MONTHLY, date(2024, 2, 29), True),
            (F.MONTHLY, date(2025, 4, 30), True),
            (F.MONTHLY, date(2025, 5, 1), False),
            (F.MONTHLY, date(2025, 12, 31), True),
            (F.QUARTERLY, date(2025, 3, 31), True),
            (F.QUARTERLY, date(2025, 6, 30), True),
            (F.QUARTERLY, date(2025, 9, 30), True),
            (F.QUARTERLY, date(2025, 12, 31), True),
            (F.QUARTERLY, date(2025, 1, 31), False),
            (F.QUARTERLY, date(2024, 2, 29), False),
            (F.QUARTERLY, date(2025, 3, 30), False),
            (F.SEMI_ANNUAL, date(2025, 6, 30), True),
            (F.SEMI_ANNUAL, date(2025, 12, 31), True),
            (F.SEMI_ANNUAL, date(2025, 3, 31), False),
            (F.SEMI_ANNUAL, date(2025, 9, 30), False),
            (F.ANNUAL, date(2025, 12, 31), True),
            (F.ANNUAL, date(2024, 12, 31), True),
            (F.ANNUAL, date(2025, 6, 30), False),
            (F.ANNUAL, date(2025, 12, 30), False),
            (F.AT_MATURITY, MATURITY, True),
            (F.AT_MATURITY, date(2025, 8, 31), False),
            (F.AT_MATURITY, date(2025, 12, 31), False),
        ],
    )
    def test_frequency_table(self, frequency: PostingFrequency, p: date, expected: bool) -> None:
        assert is_period_end(frequency, p, MATURITY) is expected

    def test_at_maturity_without_maturity_never_ends(self) -> None:
        assert not is_period_end(F.AT_MATURITY, date(2025, 12, 31), None)

    @pytest.mark.parametrize("frequency", [f for f in F if f is not F.AT_MATURITY])
    def test_maturity_is_not_a_period_end_by_itself(self, frequency: PostingFrequency) -> None:
        assert not is_period_end(frequency, MATURITY, MATURITY)

    @pytest.mark.parametrize(
        ("frequency", "count"),
        [(F.MONTHLY, 12), (F.QUARTERLY, 4), (F.SEMI_ANNUAL, 2), (F.ANNUAL, 1), (F.AT_MATURITY, 1)],
    )
    def test_period_ends_per_year(self, frequency: PostingFrequency, count: int) -> None:
        days = [
            date.fromordinal(n) for n in range(date(2024, 1, 1).toordinal(), date(2025, 1, 1).toordinal())
        ]
        assert sum(is_period_end(frequency, d, date(2024, 5, 5)) for d in days) == count


class TestPostingDue:
    @pytest.mark.parametrize("frequency", list(F))
    @pytest.mark.parametrize(
        ("p", "maturity_date", "closed_on"),
        [
            (date(2025, 8, 14), date(2025, 8, 14), None),
            (date(2025, 8, 14), None, date(2025, 8, 14)),
            (date(2025, 8, 14), date(2026, 1, 1), date(2025, 8, 14)),
        ],
    )
    def test_maturity_or_closure_is_due_and_final_on_any_frequency(
        self, frequency: PostingFrequency, p: date, maturity_date: date | None, closed_on: date | None
    ) -> None:
        assert posting_due(frequency, p, maturity_date=maturity_date, closed_on=closed_on)
        assert is_final_posting(p, maturity_date=maturity_date, closed_on=closed_on)

    @pytest.mark.parametrize(
        ("frequency", "p", "expected"),
        [
            (F.MONTHLY, date(2025, 7, 31), True),
            (F.MONTHLY, date(2025, 7, 30), False),
            (F.QUARTERLY, date(2025, 7, 31), False),
            (F.AT_MATURITY, date(2025, 12, 31), False),
        ],
    )
    def test_period_end_is_due(self, frequency: PostingFrequency, p: date, expected: bool) -> None:
        assert posting_due(frequency, p, maturity_date=None, closed_on=None) is expected

    @pytest.mark.parametrize("frequency", [F.MONTHLY, F.AT_MATURITY])
    def test_the_later_of_closure_and_maturity_is_not_due(self, frequency: PostingFrequency) -> None:
        # closed on Jan 26 before maturing on Jan 31 (a month end too): ended on the 26th
        assert not posting_due(
            frequency, date(2025, 1, 31), maturity_date=date(2025, 1, 31), closed_on=date(2025, 1, 26)
        )
        assert posting_due(
            frequency, date(2025, 1, 26), maturity_date=date(2025, 1, 31), closed_on=date(2025, 1, 26)
        )


class TestIsFinalPosting:
    @pytest.mark.parametrize(
        ("p", "maturity_date", "closed_on", "expected"),
        [
            (date(2025, 1, 31), None, None, False),
            (date(2025, 1, 31), date(2025, 2, 1), None, False),
            (date(2025, 1, 31), date(2025, 1, 31), None, True),
            (date(2025, 1, 31), None, date(2025, 1, 31), True),
            (date(2025, 1, 31), None, date(2025, 1, 30), False),
            # the account ended on the earlier date: the later one ends nothing
            (date(2025, 1, 31), date(2025, 1, 31), date(2025, 1, 26), False),
            (date(2025, 1, 26), date(2025, 1, 31), date(2025, 1, 26), True),
            (date(2025, 1, 31), date(2025, 1, 11), date(2025, 1, 31), False),
        ],
    )
    def test_final_only_at_maturity_or_closure(
        self, p: date, maturity_date: date | None, closed_on: date | None, expected: bool
    ) -> None:
        assert is_final_posting(p, maturity_date=maturity_date, closed_on=closed_on) is expected

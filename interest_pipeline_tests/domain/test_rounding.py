from decimal import Decimal
from fractions import Fraction

import pytest

from interest_pipeline.domain import round_half_even, to_decimal_exact


class TestRoundHalfEven:
    @pytest.mark.parametrize(
        ("value", "places", "expected"),
        [
            (Decimal("6.34156238125"), 10, "6.3415623812"),
            (Decimal("6.34156238135"), 10, "6.3415623814"),
            (Decimal("0.5"), 0, "0"),
            (Decimal("1.5"), 0, "2"),
            (Decimal("2.5"), 0, "2"),
            (Decimal("-2.5"), 0, "-2"),
            (Decimal("-3.5"), 0, "-4"),
            (Decimal("8.4931506837"), 2, "8.49"),
            (Decimal("0.005"), 2, "0.00"),
            (Decimal("0.015"), 2, "0.02"),
            (Decimal("1.2735"), 3, "1.274"),
            (Decimal("1.2745"), 3, "1.274"),
            (Decimal("0.0000000000"), 2, "0.00"),
            (7, 2, "7.00"),
        ],
    )
    def test_rounds_decimals_half_to_even(self, value: Decimal | int, places: int, expected: str) -> None:
        assert f"{round_half_even(value, places):f}" == expected

    @pytest.mark.parametrize(
        ("value", "places", "expected"),
        [
            (Fraction(1, 3), 10, "0.3333333333"),
            (Fraction(2, 3), 10, "0.6666666667"),
            (Fraction(1, 365), 10, "0.0027397260"),
            (Fraction(1, 8), 2, "0.12"),
            (Fraction(3, 8), 2, "0.38"),
            (Fraction(-1, 8), 2, "-0.12"),
            # Just above a tie: a lossy conversion to a 28-digit Decimal would see a tie.
            (Fraction(1, 8) + Fraction(1, 10**40), 2, "0.13"),
            (Fraction(-1, 10**40), 2, "0.00"),
        ],
    )
    def test_rounds_fractions_exactly(self, value: Fraction, places: int, expected: str) -> None:
        assert f"{round_half_even(value, places):f}" == expected

    @pytest.mark.parametrize("places", [0, 1, 2, 3, 10])
    def test_result_has_exactly_the_requested_decimals(self, places: int) -> None:
        assert round_half_even(Decimal("12"), places).as_tuple().exponent == -places

    def test_keeps_every_digit_of_large_values(self) -> None:
        big = Decimal("123456789012345678901234567890.123456789012345")
        assert round_half_even(big, 10) == Decimal("123456789012345678901234567890.1234567890")

    def test_rejects_negative_places(self) -> None:
        with pytest.raises(ValueError, match="places"):
            round_half_even(Decimal(1), -1)


class TestToDecimalExact:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [(Fraction(1, 8), "0.125"), (Fraction(3), "3"), (Fraction(-7, 20), "-0.35")],
    )
    def test_converts_terminating_fractions(self, value: Fraction, expected: str) -> None:
        assert to_decimal_exact(value) == Decimal(expected)

    def test_rejects_non_terminating_fractions(self) -> None:
        with pytest.raises(ValueError, match="finite"):
            to_decimal_exact(Fraction(1, 3))

"""Exact decimal arithmetic: half-even rounding and rounding-free Decimal operations."""

from decimal import Context, Decimal, Inexact, Rounded
from fractions import Fraction

# Decimal's default context silently rounds at 28 digits; money arithmetic here must either be
# exact or fail loudly, so every intermediate Decimal operation goes through this context.
EXACT = Context(prec=1000, traps=[Inexact, Rounded])


def round_half_even(value: Decimal | Fraction | int, places: int) -> Decimal:
    """Round exactly (rationally, never through a lossy conversion) to exactly `places` decimals."""
    if places < 0:
        raise ValueError(f"places must be >= 0, got {places}")
    scaled = Fraction(value) * 10**places
    whole, rest = divmod(scaled.numerator, scaled.denominator)
    twice_rest = 2 * rest
    if twice_rest > scaled.denominator or (twice_rest == scaled.denominator and whole % 2 == 1):
        whole += 1
    # Building from a string is exact; Decimal.scaleb would round through the context.
    return Decimal(f"{whole}E-{places}")


def to_decimal_exact(value: Fraction) -> Decimal:
    """The Decimal equal to `value`; ValueError when it has no finite decimal expansion."""
    denominator = value.denominator
    twos = fives = 0
    while denominator % 2 == 0:
        denominator //= 2
        twos += 1
    while denominator % 5 == 0:
        denominator //= 5
        fives += 1
    if denominator != 1:
        raise ValueError(f"{value} has no finite decimal expansion")
    return round_half_even(value, max(twos, fives))


def quantize_exact(value: Decimal, places: int) -> Decimal:
    """Re-express `value` with exactly `places` decimals; ValueError if that would lose digits."""
    rounded = round_half_even(value, places)
    if rounded != value:
        raise ValueError(f"{value} has more than {places} decimals")
    return rounded

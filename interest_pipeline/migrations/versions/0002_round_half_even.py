"""round_half_even(numeric, int): banker's rounding in SQL

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

PostgreSQL's round() rounds ties away from zero; money here rounds HALF_EVEN (spec 2, 3).
Only an exact tie at the dropped digit differs, so the function keeps round() for every
other value and, on a tie, keeps the truncated value when its last digit is even.
Plain SQL and IMMUTABLE so the planner inlines it into the set-based statements.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION round_half_even(value numeric, places integer DEFAULT 0) RETURNS numeric
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
            SELECT CASE
                WHEN abs(value - trunc(value, places)) * (10::numeric ^ places) = 0.5
                 AND mod(abs(trunc(value, places)) * (10::numeric ^ places), 2) = 0
                THEN trunc(value, places)
                ELSE round(value, places)
            END
        $fn$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION round_half_even(numeric, integer)")

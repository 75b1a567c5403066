"""an index of the ACCRUED rows only: what a posting sums and capitalizes, whatever the history

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

A posting of P reads, per due account, its ACCRUED rows up to P (the pending sum) and then
updates them to CAPITALIZED. By the primary key (account_id, accrual_date) that lookup visits every
row of the account up to P, capitalized ones included: after two years, ~720 heap rows per account,
on ~720 pages, for the ~30 it wants (issue 12). This partial index holds the ACCRUED rows only, so
the lookup reads what it sums. A row leaves it when it is capitalized (status is the predicate).
Built from the existing rows by the migration itself.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_interest_accruals_pending"


def upgrade() -> None:
    op.execute(
        f"CREATE INDEX {INDEX} ON interest_accruals (account_id, accrual_date) WHERE status = 'ACCRUED'"
    )


def downgrade() -> None:
    op.execute(f"DROP INDEX {INDEX}")

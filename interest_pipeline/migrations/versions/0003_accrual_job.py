"""accrual job: schema the daily accrual job needs beyond 0001

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21

The accrual statement reads a chunk's existing rows of date D as one range scan:
(accrual_date, account_id) serves "D's rows of accounts lo..hi", which neither the primary key
(account_id, accrual_date) nor the single-column accrual_date index can do without reading
every date of those accounts or every account of that date. It also serves every per-date
query the single-column index did, which is therefore dropped.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_interest_accruals_accrual_date_account_id"),
        "interest_accruals",
        ["accrual_date", "account_id"],
        unique=False,
    )
    op.drop_index(op.f("ix_interest_accruals_accrual_date"), table_name="interest_accruals")


def downgrade() -> None:
    op.create_index(
        op.f("ix_interest_accruals_accrual_date"), "interest_accruals", ["accrual_date"], unique=False
    )
    op.drop_index(op.f("ix_interest_accruals_accrual_date_account_id"), table_name="interest_accruals")

"""late postings: a blocked posting is made later as the same posting, and says when it was made

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

Spec section 3: a due account whose accruals are incomplete on P is blocked, and "the first
posting run after the dates are repaired includes them". A posting run of R now also makes the
postings owed from earlier due dates P < R (posting/sql.py), under P's key and value date. So:

- interest_postings.made_on: the business date of the posting run that made the posting
  (= posting_date unless it was made late); existing rows were made on their own date.
- interest_batch_account_result's key gains business_date: a posting run of R writes one result
  per account and due date it dealt with (its own R, and every owed P), each with the date it is
  about. Accrual results keep business_date = the run's date, so their keys are unchanged.
- A partial index on the FAILED posting results: where every run looks for owed postings.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FAILED_POSTINGS_INDEX = "ix_interest_batch_account_result_failed_postings"


def upgrade() -> None:
    op.add_column("interest_postings", sa.Column("made_on", sa.Date(), nullable=True))
    op.execute("UPDATE interest_postings SET made_on = posting_date")
    op.alter_column("interest_postings", "made_on", nullable=False)
    op.create_check_constraint(
        op.f("ck_interest_postings_made_on_or_after_posting_date"),
        "interest_postings",
        "made_on >= posting_date",
    )
    op.drop_constraint(
        op.f("pk_interest_batch_account_result"), "interest_batch_account_result", type_="primary"
    )
    op.create_primary_key(
        op.f("pk_interest_batch_account_result"),
        "interest_batch_account_result",
        ["execution_id", "account_id", "business_date"],
    )
    op.create_index(
        FAILED_POSTINGS_INDEX,
        "interest_batch_account_result",
        ["account_id", "business_date"],
        postgresql_where=sa.text("job_type = 'interest_posting' AND status = 'FAILED'"),
    )


def downgrade() -> None:
    op.drop_index(FAILED_POSTINGS_INDEX, table_name="interest_batch_account_result")
    # Fails, as it should, once an execution has results for several dates of one account.
    op.drop_constraint(
        op.f("pk_interest_batch_account_result"), "interest_batch_account_result", type_="primary"
    )
    op.create_primary_key(
        op.f("pk_interest_batch_account_result"),
        "interest_batch_account_result",
        ["execution_id", "account_id"],
    )
    op.drop_constraint(
        op.f("ck_interest_postings_made_on_or_after_posting_date"), "interest_postings", type_="check"
    )
    op.drop_column("interest_postings", "made_on")

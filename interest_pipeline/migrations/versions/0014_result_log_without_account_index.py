"""account results: no per-account index over the whole log; an account's first result date kept
on its status row

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02

The index (account_id, job_type, business_date) took an entry for every result ever written, one
per account a day, in account order: each night's ~1,000,000 accrual results landed on a
different leaf page per few accounts, all over an index that grows with every month of history
and soon no longer fits in memory (issue 12: the accrual's cost grows with history). Its readers
now go elsewhere:
- the posting's completeness check wanted each candidate's first accrual result date: it is kept
  on interest_batch_account_status (first_business_date, written by the same upsert as the rest
  of the row, moved back by a run for an earlier date, never forward), and filled here from the
  results;
- an account's posting results of a due date (the owed-postings check, the explain, the month
  report): a partial index on posting results only, a few per account a month;
- an account's accrual results of a date (the explain, the month report): through that date's
  accrual executions, each probed by the primary key (an accrual run writes results of its own
  date only).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RESULTS = "interest_batch_account_result"
STATUS = "interest_batch_account_status"
ACCOUNT_INDEX = "ix_interest_batch_account_result_account_id_job_type_bu_cc1d"
POSTING_INDEX = "ix_interest_batch_account_result_posting_results"
FIRST_DATE_CHECK = "ck_interest_batch_account_status_first_date_not_after_last"


def upgrade() -> None:
    op.execute(f"ALTER TABLE {STATUS} ADD COLUMN first_business_date date")
    # One pass over the results (hashed per account and job), not a probe per status row.
    op.execute(
        f"""
        UPDATE {STATUS} st SET first_business_date = f.first_date
          FROM (SELECT account_id, job_type, min(business_date) AS first_date
                  FROM {RESULTS} GROUP BY account_id, job_type) f
         WHERE f.account_id = st.account_id AND f.job_type = st.job_type
        """
    )
    # A status row whose results are gone (none of our writers leaves one): its own date.
    op.execute(
        f"UPDATE {STATUS} SET first_business_date = last_business_date"
        " WHERE first_business_date IS NULL OR first_business_date > last_business_date"
    )
    op.execute(f"ALTER TABLE {STATUS} ALTER COLUMN first_business_date SET NOT NULL")
    op.execute(
        f"ALTER TABLE {STATUS} ADD CONSTRAINT {FIRST_DATE_CHECK}"
        " CHECK (first_business_date <= last_business_date)"
    )
    op.execute(
        f"CREATE INDEX {POSTING_INDEX} ON {RESULTS} (account_id, business_date)"
        " WHERE job_type = 'interest_posting'"
    )
    op.execute(f"DROP INDEX {ACCOUNT_INDEX}")


def downgrade() -> None:
    op.execute(f"CREATE INDEX {ACCOUNT_INDEX} ON {RESULTS} (account_id, job_type, business_date)")
    op.execute(f"DROP INDEX {POSTING_INDEX}")
    op.execute(f"ALTER TABLE {STATUS} DROP CONSTRAINT {FIRST_DATE_CHECK}")
    op.execute(f"ALTER TABLE {STATUS} DROP COLUMN first_business_date")

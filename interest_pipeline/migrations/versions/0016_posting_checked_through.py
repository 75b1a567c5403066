"""a posting run that found nothing pending bounds the months the next one reads

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06

A posting reads an account's rows dated after its previous posting, month partition by month
partition (0015). An account never posted, or not for months (dormant savings, deposits posted at
maturity, accounts ended with nothing left to post), had no such bound: every posting run read
every month since the start of history for it, work that grew with the years behind it (issue 12:
at 100,000 accounts after 12 months, ~60,000 more index pages read per month end, from months no
run needs). The latest posting run of an account leaves a status row; when it says SKIPPED the run
found nothing pending through its date (NOTHING_TO_POST, or a posting exists that bounds the rows
anyway), and the next posting reads only the dates after the later of that and the previous
posting (db/capitalization.py, `posting_checked_through`).

A row dated on or before such a run's date and written after it must still be posted: the trigger
of 0015 now also records a row written while its account's posting status is SKIPPED on or after
its date, as it records one written while a posting dated on or after it exists. A night's run
dates after every posting run: the first condition still settles it with two index probes.
Filled here from the existing rows: those dated after the account's latest posting and on or
before a SKIPPED status's date (written after that run, since it found none).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENTRIES = "interest_accrual_entries"
BACKDATED = "interest_accrual_backdated"
RECORD_BACKDATED = "interest_accrual_record_backdated"
POSTING = "interest_posting"

# 0015's function, restored by the downgrade.
BY_POSTINGS = f"""
            INSERT INTO {BACKDATED} (account_id, accrual_date)
            SELECT w.account_id, w.accrual_date FROM written w
             WHERE w.accrual_date <= (SELECT max(last.posting_date) FROM interest_postings last)
               AND EXISTS (SELECT 1 FROM interest_postings p
                            WHERE p.account_id = w.account_id AND p.posting_date >= w.accrual_date)
            ON CONFLICT (account_id, accrual_date) DO NOTHING;"""

# A posting status's date is a posting run's pass date, never after that run's business date.
BY_POSTINGS_OR_CHECKED = f"""
            INSERT INTO {BACKDATED} (account_id, accrual_date)
            SELECT w.account_id, w.accrual_date FROM written w
             WHERE w.accrual_date <= greatest(
                       (SELECT max(last.posting_date) FROM interest_postings last),
                       (SELECT max(e.business_date) FROM interest_batch_execution e
                         WHERE e.job_type = '{POSTING}'))
               AND (EXISTS (SELECT 1 FROM interest_postings p
                             WHERE p.account_id = w.account_id AND p.posting_date >= w.accrual_date)
                    OR EXISTS (SELECT 1 FROM interest_batch_account_status st
                                WHERE st.account_id = w.account_id AND st.job_type = '{POSTING}'
                                  AND st.last_status = 'SKIPPED'
                                  AND st.last_business_date >= w.accrual_date))
            ON CONFLICT (account_id, accrual_date) DO NOTHING;"""


def replace_function(body: str) -> None:
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION {RECORD_BACKDATED}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN{body}
            RETURN NULL;
        END $$
        """
    )


def upgrade() -> None:
    replace_function(BY_POSTINGS_OR_CHECKED)
    # Rows the new bound would otherwise skip: dated after the account's latest posting (none:
    # every date) and on or before its SKIPPED status's date. That run found none of them pending,
    # so each was written after it.
    op.execute(
        f"""
        INSERT INTO {BACKDATED} (account_id, accrual_date)
        SELECT e.account_id, e.accrual_date
          FROM interest_batch_account_status st
          LEFT JOIN LATERAL (
                SELECT max(p.posting_date) AS posting_date FROM interest_postings p
                 WHERE p.account_id = st.account_id) latest ON true
          JOIN {ENTRIES} e ON e.account_id = st.account_id
                          AND e.accrual_date <= st.last_business_date
                          AND e.accrual_date > coalesce(latest.posting_date, '-infinity'::date)
         WHERE st.job_type = '{POSTING}' AND st.last_status = 'SKIPPED'
        ON CONFLICT (account_id, accrual_date) DO NOTHING
        """
    )


def downgrade() -> None:
    # The rows recorded meanwhile stay: 0015's posting reads them only when they are back-dated
    # behind a posting, and reads the others by date.
    replace_function(BY_POSTINGS)

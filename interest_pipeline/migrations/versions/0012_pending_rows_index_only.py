"""accrual rows: a posting reads an account's pending rows from the primary key alone

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02

A posting sums, per due account, the rows pending since its previous posting: at a 1M-account
month end ~12.4 M rows, each night's rows written together, so one account's month of rows lies
on ~29 different heap pages (docs/benchmarks.md, issue 12). The primary key (account_id,
accrual_date) already finds them side by side; with `amount` and `write_seq` carried in its
leaf entries (INCLUDE, not key columns: uniqueness is unchanged) the posting's sum, its
completeness window and the close op's re-count of what each posting took read one or two index
pages per account and no heap page, once the visibility map says the pages are all-visible.

That needs vacuum to follow the nightly inserts. By default autovacuum visits an insert-only
table after 20 % of its size in new rows (autovacuum_vacuum_insert_scale_factor): after a year at
1M accounts, only every ~70 nights, so the rows of the month being posted would mostly be read
from the heap again. The table now asks for a vacuum after every 500,000 inserted rows, whatever
its size: about once a night at 1M accounts, and each visits only the pages written since the
last (the visibility map skips the rest).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENTRIES = "interest_accrual_entries"
PRIMARY_KEY = f"pk_{ENTRIES}"
INSERT_THRESHOLD = 500_000


def upgrade() -> None:
    # One statement, so the table is never without its key (and the view over it keeps working).
    op.execute(
        f"ALTER TABLE {ENTRIES} DROP CONSTRAINT {PRIMARY_KEY},"
        f" ADD CONSTRAINT {PRIMARY_KEY} PRIMARY KEY (account_id, accrual_date) INCLUDE (amount, write_seq)"
    )
    op.execute(
        f"ALTER TABLE {ENTRIES} SET (autovacuum_vacuum_insert_threshold = {INSERT_THRESHOLD},"
        " autovacuum_vacuum_insert_scale_factor = 0)"
    )


def downgrade() -> None:
    op.execute(
        f"ALTER TABLE {ENTRIES} RESET (autovacuum_vacuum_insert_threshold, autovacuum_vacuum_insert_scale_factor)"
    )
    op.execute(
        f"ALTER TABLE {ENTRIES} DROP CONSTRAINT {PRIMARY_KEY},"
        f" ADD CONSTRAINT {PRIMARY_KEY} PRIMARY KEY (account_id, accrual_date)"
    )

"""default batch_size 250,000: the seeded config rows, where nobody changed them

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06

At 50,000 accounts a chunk a 1M-account night is 20 chunk steps; at 250,000 it is four, and on
the 2-core machine of docs/benchmarks.md the posting's month end took 32-36 s instead of 39 s
(1.8-2.0x its bare-SQL floor instead of 2.2x) and the accrual 20.5-22 s instead of 24.7 s.
batch.chunks now splits a book within one batch over parallel_threads (chunks of at least
MIN_SPLIT_ACCOUNTS), so a smaller book keeps both cores busy at the larger default.

Only the seeded rows that still hold what 0001 seeded are changed: named 'default', created and
never updated by anyone through the API (created_by and updated_by NULL), updated_at still equal
to created_at, batch_size still 50,000. A row an operator set, to 50,000 or anything else, is
theirs and stays as it is. Downgrade puts back 50,000 on the rows this changed (the same test,
with 250,000).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_DEFAULT = 50_000
NEW_DEFAULT = 250_000


def _reseed(current: int, new: int) -> None:
    # updated_at is left alone, so that downgrade finds the same rows and an operator's later
    # update (the API sets updated_at and updated_by) still tells them apart
    op.execute(
        f"""
        UPDATE interest_batch_config SET batch_size = {new}
         WHERE name = 'default' AND batch_size = {current}
           AND created_by IS NULL AND updated_by IS NULL AND updated_at = created_at
        """
    )


def upgrade() -> None:
    _reseed(OLD_DEFAULT, NEW_DEFAULT)


def downgrade() -> None:
    _reseed(NEW_DEFAULT, OLD_DEFAULT)

"""postings indexed by the execution that made them

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06

A posting run's close reads the postings it made: the dates it touched (its own and those of the
late postings it made, which its checks cover) and its per-currency table; so do the dry run and
its report. They found them by `execution_id`, which no index held: every close scanned every
posting ever made. At 100,000 accounts after 24 months of history (1,032,549 postings) those two
reads took 95 and 130 ms against 11 and 53 ms after one month (issue 12, docs/benchmarks.md).
A run's postings share one execution id, so they sit together in this index and a month end
writes into one region of it. Building it takes a few seconds per million postings.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_interest_postings_execution_id"


def upgrade() -> None:
    op.execute(f"CREATE INDEX {INDEX} ON interest_postings (execution_id)")


def downgrade() -> None:
    op.execute(f"DROP INDEX {INDEX}")

"""posting and journal keys indexed month first

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06

A posting's idempotency key, which is also its journal's key, is `INT-CAP-<account_id>-<YYYY-MM>`
(spec section 4). Indexed as it reads, a month end's keys go to every leaf of an index that holds
every posting ever made, one entry per account per month: the pages a month end dirties grew with
the months behind it (issue 12: at 100,000 accounts the journal insert dirtied 3,300 pages after
one month and 12,800 after twelve). Indexed month first, `(right(key, 7), key)`, a month's keys sit
together and a month end writes into one region of each index, however long the history.

Both keys stay unique: an index unique on (f(key), key) admits a key once. The indexes keep the
constraints' names, so a duplicate still fails as `uq_interest_postings_idempotency_key` and
`uq_ledger_entries_journal_key_line_no`. A lookup by key reads them with the month too
(`right(key, 7) = ...`); the posting's `ON CONFLICT` names the same two expressions.
Rebuilding the two indexes takes a few seconds per million postings, under an exclusive lock.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POSTING_KEY = "uq_interest_postings_idempotency_key"
JOURNAL_KEY = "uq_ledger_entries_journal_key_line_no"


def upgrade() -> None:
    op.execute(f"ALTER TABLE interest_postings DROP CONSTRAINT {POSTING_KEY}")
    op.execute(
        f"CREATE UNIQUE INDEX {POSTING_KEY} ON interest_postings (right(idempotency_key, 7), idempotency_key)"
    )
    op.execute(f"ALTER TABLE ledger_entries DROP CONSTRAINT {JOURNAL_KEY}")
    op.execute(
        f"CREATE UNIQUE INDEX {JOURNAL_KEY} ON ledger_entries (right(journal_key, 7), journal_key, line_no)"
    )


def downgrade() -> None:
    op.execute(f"DROP INDEX {JOURNAL_KEY}")
    op.execute(f"ALTER TABLE ledger_entries ADD CONSTRAINT {JOURNAL_KEY} UNIQUE (journal_key, line_no)")
    op.execute(f"DROP INDEX {POSTING_KEY}")
    op.execute(f"ALTER TABLE interest_postings ADD CONSTRAINT {POSTING_KEY} UNIQUE (idempotency_key)")

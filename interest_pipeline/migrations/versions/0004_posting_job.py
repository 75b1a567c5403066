"""posting job: schema the posting job needs beyond 0001 (none)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21

The posting job needs nothing beyond 0001: interest_postings.idempotency_key is UNIQUE (what
ON CONFLICT DO NOTHING relies on), (account_id, posting_date) is indexed for the previous
posting's carry, and the execution tables carry the accrual runs' scope for completeness checks.

Empty, and kept in the chain on purpose: databases already migrated record 0004 (or a later
revision whose ancestry runs through it) in their version table, and Alembic cannot upgrade or
downgrade a database from a revision it cannot find. test_migrations checks that this step
changes nothing in the schema.
"""

from collections.abc import Sequence

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

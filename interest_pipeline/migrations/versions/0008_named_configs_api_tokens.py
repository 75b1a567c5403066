"""named job configurations, their audit columns, API tokens, the failed-results page index

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

- interest_batch_config had one row per job type (unique job_type). Operators need several per
  type (e.g. a FIXED_DEPOSIT-only posting beside the default one), so a row is now named and
  unique per (job_type, name); the seeded rows are named 'default', which is what a run without
  a config id uses. `created_by` / `updated_by` record who made or last changed a row through
  the API (token name or JWT subject).
- api_tokens: the operations API's bearer tokens. Only the SHA-256 of a token is stored, so a
  leaked table does not leak tokens; a revoked token keeps its row (revoked_at) for the audit.
- ix_interest_batch_account_result_execution_not_success: a page of one execution's FAILED (or
  SKIPPED) results and its count read only the few rows that are not SUCCESS; without it the
  count walks the execution's whole primary-key range (1,000,000 rows at full scale).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "interest_batch_config",
        sa.Column("name", sa.Text(), nullable=False, server_default=sa.text("'default'")),
    )
    op.add_column("interest_batch_config", sa.Column("created_by", sa.Text(), nullable=True))
    op.add_column("interest_batch_config", sa.Column("updated_by", sa.Text(), nullable=True))
    op.drop_constraint(op.f("uq_interest_batch_config_job_type"), "interest_batch_config", type_="unique")
    op.create_unique_constraint(
        op.f("uq_interest_batch_config_job_type_name"), "interest_batch_config", ["job_type", "name"]
    )
    op.create_check_constraint(
        op.f("ck_interest_batch_config_name_not_blank"), "interest_batch_config", "btrim(name) <> ''"
    )

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("token_sha256", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("role IN ('admin', 'user')", name=op.f("ck_api_tokens_role")),
        sa.CheckConstraint("token_sha256 ~ '^[0-9a-f]{64}$'", name=op.f("ck_api_tokens_sha256_hex")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("name", name=op.f("uq_api_tokens_name")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_api_tokens_token_sha256")),
    )

    op.create_index(
        "ix_interest_batch_account_result_execution_not_success",
        "interest_batch_account_result",
        ["execution_id", "status", "account_id"],
        unique=False,
        postgresql_where=sa.text("status <> 'SUCCESS'"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_interest_batch_account_result_execution_not_success", table_name="interest_batch_account_result"
    )
    op.drop_table("api_tokens")
    # Only the default rows fit the old one-row-per-job-type schema.
    op.execute("DELETE FROM interest_batch_config WHERE name <> 'default'")
    op.drop_constraint(
        op.f("ck_interest_batch_config_name_not_blank"), "interest_batch_config", type_="check"
    )
    op.drop_constraint(
        op.f("uq_interest_batch_config_job_type_name"), "interest_batch_config", type_="unique"
    )
    op.create_unique_constraint(
        op.f("uq_interest_batch_config_job_type"), "interest_batch_config", ["job_type"]
    )
    op.drop_column("interest_batch_config", "updated_by")
    op.drop_column("interest_batch_config", "created_by")
    op.drop_column("interest_batch_config", "name")

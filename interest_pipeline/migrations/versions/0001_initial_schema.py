"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-21

Every table of the interest model (spec sections 1 and 4) and the batch module's four
execution tables, with the constraints an auditor asks for; currencies and the two job
configurations are seeded.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "currencies",
        sa.Column("code", sa.CHAR(length=3), nullable=False),
        sa.Column("minor_units", sa.SmallInteger(), nullable=False),
        sa.CheckConstraint("code ~ '^[A-Z]{3}$'", name=op.f("ck_currencies_iso_code")),
        sa.CheckConstraint("minor_units BETWEEN 0 AND 4", name=op.f("ck_currencies_minor_units")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_currencies")),
    )
    op.create_table(
        "interest_batch_config",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("job_type", sa.Text(), nullable=False),
        sa.Column("batch_size", sa.Integer(), nullable=False),
        sa.Column("parallel_threads", sa.Integer(), nullable=False),
        sa.Column("max_retries", sa.Integer(), nullable=False),
        sa.Column("retry_interval_seconds", sa.Integer(), nullable=False),
        sa.Column("timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("account_types", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column(
            "custom_parameters",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("cron_expression", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "cardinality(account_types) > 0 AND account_types <@ ARRAY['SAVINGS', 'FIXED_DEPOSIT', 'RECURRING_DEPOSIT']::text[]",
            name=op.f("ck_interest_batch_config_account_types"),
        ),
        sa.CheckConstraint(
            "job_type IN ('daily_interest_accrual', 'interest_posting')",
            name=op.f("ck_interest_batch_config_job_type"),
        ),
        sa.CheckConstraint(
            "jsonb_typeof(custom_parameters) = 'object'",
            name=op.f("ck_interest_batch_config_custom_parameters_object"),
        ),
        sa.CheckConstraint("batch_size > 0", name=op.f("ck_interest_batch_config_batch_size_positive")),
        sa.CheckConstraint(
            "max_retries >= 0", name=op.f("ck_interest_batch_config_max_retries_non_negative")
        ),
        sa.CheckConstraint(
            "parallel_threads > 0", name=op.f("ck_interest_batch_config_parallel_threads_positive")
        ),
        sa.CheckConstraint(
            "retry_interval_seconds >= 0", name=op.f("ck_interest_batch_config_retry_interval_non_negative")
        ),
        sa.CheckConstraint("timeout_seconds > 0", name=op.f("ck_interest_batch_config_timeout_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interest_batch_config")),
        sa.UniqueConstraint("job_type", name=op.f("uq_interest_batch_config_job_type")),
    )
    op.create_table(
        "interest_batch_execution",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("job_type", sa.Text(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("trigger", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column(
            "parameters",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("account_ids", postgresql.ARRAY(sa.BigInteger()), nullable=True),
        sa.Column("account_types", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("include_dormant", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("total_chunks", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("chunks_completed", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("accounts_processed", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("accounts_succeeded", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("accounts_skipped", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("accounts_failed", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "total_amount", sa.Numeric(precision=28, scale=10), server_default=sa.text("0"), nullable=False
        ),
        sa.Column(
            "totals_by_currency",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "(status = 'RUNNING') = (completed_at IS NULL)",
            name=op.f("ck_interest_batch_execution_completed_when_not_running"),
        ),
        sa.CheckConstraint(
            "job_type IN ('daily_interest_accrual', 'interest_posting')",
            name=op.f("ck_interest_batch_execution_job_type"),
        ),
        sa.CheckConstraint(
            "status IN ('RUNNING', 'SUCCESS', 'PARTIAL', 'FAILED', 'CANCELLED')",
            name=op.f("ck_interest_batch_execution_status"),
        ),
        sa.CheckConstraint(
            "trigger IN ('SCHEDULE', 'SENSOR', 'BACKFILL', 'MANUAL')",
            name=op.f("ck_interest_batch_execution_trigger"),
        ),
        sa.CheckConstraint(
            "accounts_processed = accounts_succeeded + accounts_skipped + accounts_failed",
            name=op.f("ck_interest_batch_execution_counts_add_up"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interest_batch_execution")),
    )
    op.create_index(
        op.f("ix_interest_batch_execution_job_type_business_date_status"),
        "interest_batch_execution",
        ["job_type", "business_date", "status"],
        unique=False,
    )
    op.create_index(
        op.f("ix_interest_batch_execution_started_at"),
        "interest_batch_execution",
        ["started_at"],
        unique=False,
    )
    op.create_table(
        "interest_products",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("account_type", sa.Text(), nullable=False),
        sa.Column("day_count", sa.Text(), nullable=False),
        sa.Column("posting_frequency", sa.Text(), nullable=False),
        sa.Column("tier_mode", sa.Text(), nullable=False),
        sa.Column("min_balance_for_interest", sa.Numeric(precision=19, scale=4), nullable=True),
        sa.Column(
            "withholding_tax_rate",
            sa.Numeric(precision=9, scale=6),
            server_default=sa.text("0"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "account_type IN ('SAVINGS', 'FIXED_DEPOSIT', 'RECURRING_DEPOSIT')",
            name=op.f("ck_interest_products_account_type"),
        ),
        sa.CheckConstraint(
            "day_count IN ('ACT/365F', 'ACT/360', '30/360', 'ACT/ACT')",
            name=op.f("ck_interest_products_day_count"),
        ),
        sa.CheckConstraint(
            "posting_frequency IN ('MONTHLY', 'QUARTERLY', 'SEMI_ANNUAL', 'ANNUAL', 'AT_MATURITY')",
            name=op.f("ck_interest_products_posting_frequency"),
        ),
        sa.CheckConstraint("tier_mode IN ('WHOLE', 'BANDED')", name=op.f("ck_interest_products_tier_mode")),
        sa.CheckConstraint(
            "min_balance_for_interest >= 0", name=op.f("ck_interest_products_min_balance_non_negative")
        ),
        sa.CheckConstraint(
            "withholding_tax_rate BETWEEN 0 AND 100", name=op.f("ck_interest_products_tax_rate_percent")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_interest_products")),
    )
    op.create_table(
        "accounts",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("account_number", sa.Text(), nullable=False),
        sa.Column("product_code", sa.Text(), nullable=False),
        sa.Column("currency", sa.CHAR(length=3), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("maturity_date", sa.Date(), nullable=True),
        sa.Column("rate_override", sa.Numeric(precision=9, scale=6), nullable=True),
        sa.CheckConstraint(
            "status <> 'CLOSED' OR closed_on IS NOT NULL", name=op.f("ck_accounts_closed_needs_closed_on")
        ),
        sa.CheckConstraint("status IN ('ACTIVE', 'DORMANT', 'CLOSED')", name=op.f("ck_accounts_status")),
        sa.CheckConstraint(
            "closed_on IS NULL OR closed_on >= opened_on", name=op.f("ck_accounts_closed_after_opened")
        ),
        sa.CheckConstraint(
            "maturity_date IS NULL OR maturity_date > opened_on",
            name=op.f("ck_accounts_matures_after_opened"),
        ),
        sa.CheckConstraint(
            "rate_override IS NULL OR rate_override >= 0", name=op.f("ck_accounts_rate_override_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["currency"], ["currencies.code"], name=op.f("fk_accounts_currency_currencies")
        ),
        sa.ForeignKeyConstraint(
            ["product_code"],
            ["interest_products.code"],
            name=op.f("fk_accounts_product_code_interest_products"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("account_number", name=op.f("uq_accounts_account_number")),
    )
    op.create_index(op.f("ix_accounts_product_code"), "accounts", ["product_code"], unique=False)
    op.create_table(
        "interest_rate_tiers",
        sa.Column("product_code", sa.Text(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("min_balance", sa.Numeric(precision=19, scale=4), nullable=False),
        sa.Column("annual_rate", sa.Numeric(precision=9, scale=6), nullable=False),
        sa.CheckConstraint("annual_rate >= 0", name=op.f("ck_interest_rate_tiers_annual_rate_non_negative")),
        sa.CheckConstraint("min_balance >= 0", name=op.f("ck_interest_rate_tiers_min_balance_non_negative")),
        sa.ForeignKeyConstraint(
            ["product_code"],
            ["interest_products.code"],
            name=op.f("fk_interest_rate_tiers_product_code_interest_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "product_code", "effective_from", "min_balance", name=op.f("pk_interest_rate_tiers")
        ),
    )
    op.create_table(
        "account_balances",
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("balance_date", sa.Date(), nullable=False),
        sa.Column("closing_balance", sa.Numeric(precision=19, scale=4), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_account_balances_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "balance_date", name=op.f("pk_account_balances")),
    )
    op.create_table(
        "interest_batch_account_result",
        sa.Column("execution_id", sa.Text(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("job_type", sa.Text(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=28, scale=10), nullable=True),
        sa.Column("previous_amount", sa.Numeric(precision=28, scale=10), nullable=True),
        sa.Column("currency", sa.CHAR(length=3), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("processing_time_ms", sa.Numeric(precision=12, scale=3), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "job_type IN ('daily_interest_accrual', 'interest_posting')",
            name=op.f("ck_interest_batch_account_result_job_type"),
        ),
        sa.CheckConstraint(
            "status = 'SUCCESS' OR reason IS NOT NULL",
            name=op.f("ck_interest_batch_account_result_reason_when_not_success"),
        ),
        sa.CheckConstraint(
            "status IN ('SUCCESS', 'SKIPPED', 'FAILED')", name=op.f("ck_interest_batch_account_result_status")
        ),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["interest_batch_execution.id"],
            name=op.f("fk_interest_batch_account_result_execution_id_interest_batch_execution"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("execution_id", "account_id", name=op.f("pk_interest_batch_account_result")),
    )
    op.create_index(
        op.f("ix_interest_batch_account_result_account_id_job_type_business_date"),
        "interest_batch_account_result",
        ["account_id", "job_type", "business_date"],
        unique=False,
    )
    op.create_index(
        "ix_interest_batch_account_result_not_success",
        "interest_batch_account_result",
        ["job_type", "business_date", "status"],
        unique=False,
        postgresql_where=sa.text("status <> 'SUCCESS'"),
    )
    op.create_table(
        "interest_batch_account_status",
        sa.Column("account_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("job_type", sa.Text(), nullable=False),
        sa.Column("last_business_date", sa.Date(), nullable=False),
        sa.Column("last_status", sa.Text(), nullable=False),
        sa.Column("last_execution_id", sa.Text(), nullable=False),
        sa.Column("last_success_date", sa.Date(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "job_type IN ('daily_interest_accrual', 'interest_posting')",
            name=op.f("ck_interest_batch_account_status_job_type"),
        ),
        sa.CheckConstraint(
            "last_status IN ('SUCCESS', 'SKIPPED', 'FAILED')",
            name=op.f("ck_interest_batch_account_status_last_status"),
        ),
        sa.CheckConstraint(
            "consecutive_failures >= 0",
            name=op.f("ck_interest_batch_account_status_consecutive_failures_non_negative"),
        ),
        sa.PrimaryKeyConstraint("account_id", "job_type", name=op.f("pk_interest_batch_account_status")),
        # Every account's row is rewritten daily: free space per page keeps those updates HOT.
        postgresql_with={"fillfactor": 70},
    )
    op.create_index(
        "ix_interest_batch_account_status_failed",
        "interest_batch_account_status",
        ["job_type", "account_id"],
        unique=False,
        postgresql_where=sa.text("last_status = 'FAILED'"),
    )
    op.create_table(
        "interest_postings",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("posting_date", sa.Date(), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("currency", sa.CHAR(length=3), nullable=False),
        sa.Column("carry_in", sa.Numeric(precision=28, scale=10), nullable=False),
        sa.Column("accrued", sa.Numeric(precision=28, scale=10), nullable=False),
        sa.Column("gross", sa.Numeric(precision=19, scale=4), nullable=False),
        sa.Column("carry_out", sa.Numeric(precision=28, scale=10), nullable=False),
        sa.Column("tax", sa.Numeric(precision=19, scale=4), nullable=False),
        sa.Column("net", sa.Numeric(precision=19, scale=4), nullable=False),
        sa.Column("withholding_tax_rate", sa.Numeric(precision=9, scale=6), nullable=False),
        sa.Column("is_final", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "written_off", sa.Numeric(precision=28, scale=10), server_default=sa.text("0"), nullable=False
        ),
        sa.Column("accrual_count", sa.Integer(), nullable=False),
        sa.Column("first_accrual_date", sa.Date(), nullable=True),
        sa.Column("last_accrual_date", sa.Date(), nullable=True),
        sa.Column("execution_id", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "abs(carry_in) <= 0.5 AND abs(carry_out) <= 0.5",
            name=op.f("ck_interest_postings_carry_below_one_unit"),
        ),
        sa.CheckConstraint(
            "gross = accrued + carry_in - carry_out", name=op.f("ck_interest_postings_carry_reconciles")
        ),
        sa.CheckConstraint("gross = net + tax", name=op.f("ck_interest_postings_gross_is_net_plus_tax")),
        sa.CheckConstraint(
            "gross >= 0 AND tax >= 0 AND net >= 0", name=op.f("ck_interest_postings_amounts_non_negative")
        ),
        sa.CheckConstraint(
            "is_final OR written_off = 0", name=op.f("ck_interest_postings_write_off_only_when_final")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_interest_postings_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["currency"], ["currencies.code"], name=op.f("fk_interest_postings_currency_currencies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interest_postings")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_interest_postings_idempotency_key")),
    )
    op.create_index(
        op.f("ix_interest_postings_account_id_posting_date"),
        "interest_postings",
        ["account_id", "posting_date"],
        unique=False,
    )
    op.create_index(
        op.f("ix_interest_postings_posting_date"), "interest_postings", ["posting_date"], unique=False
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("journal_key", sa.Text(), nullable=False),
        sa.Column("line_no", sa.SmallInteger(), nullable=False),
        sa.Column("gl_account", sa.Text(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=True),
        sa.Column("debit", sa.Numeric(precision=19, scale=4), server_default=sa.text("0"), nullable=False),
        sa.Column("credit", sa.Numeric(precision=19, scale=4), server_default=sa.text("0"), nullable=False),
        sa.Column("currency", sa.CHAR(length=3), nullable=False),
        sa.Column("value_date", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("(debit > 0) <> (credit > 0)", name=op.f("ck_ledger_entries_one_side")),
        sa.CheckConstraint("debit >= 0 AND credit >= 0", name=op.f("ck_ledger_entries_amounts_non_negative")),
        sa.CheckConstraint("line_no > 0", name=op.f("ck_ledger_entries_line_no_positive")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_ledger_entries_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["currency"], ["currencies.code"], name=op.f("fk_ledger_entries_currency_currencies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
        sa.UniqueConstraint("journal_key", "line_no", name=op.f("uq_ledger_entries_journal_key_line_no")),
    )
    op.create_index(op.f("ix_ledger_entries_account_id"), "ledger_entries", ["account_id"], unique=False)
    op.create_index(op.f("ix_ledger_entries_value_date"), "ledger_entries", ["value_date"], unique=False)
    op.create_table(
        "interest_accruals",
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("accrual_date", sa.Date(), nullable=False),
        sa.Column("balance", sa.Numeric(precision=19, scale=4), nullable=False),
        sa.Column("amount", sa.Numeric(precision=28, scale=10), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'ACCRUED'"), nullable=False),
        sa.Column("capitalization_date", sa.Date(), nullable=True),
        sa.Column("posting_id", sa.BigInteger(), nullable=True),
        sa.Column("execution_id", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "(status = 'CAPITALIZED') = (posting_id IS NOT NULL AND capitalization_date IS NOT NULL)",
            name=op.f("ck_interest_accruals_capitalized_has_posting"),
        ),
        sa.CheckConstraint("status IN ('ACCRUED', 'CAPITALIZED')", name=op.f("ck_interest_accruals_status")),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_interest_accruals_amount_non_negative")),
        sa.CheckConstraint("balance > 0", name=op.f("ck_interest_accruals_balance_positive")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_interest_accruals_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["posting_id"],
            ["interest_postings.id"],
            name=op.f("fk_interest_accruals_posting_id_interest_postings"),
        ),
        sa.PrimaryKeyConstraint("account_id", "accrual_date", name=op.f("pk_interest_accruals")),
    )
    op.create_index(
        op.f("ix_interest_accruals_accrual_date"), "interest_accruals", ["accrual_date"], unique=False
    )
    op.create_index(
        op.f("ix_interest_accruals_posting_id"), "interest_accruals", ["posting_id"], unique=False
    )

    _seed()
    _invariant_triggers()


CURRENCIES = [
    ("USD", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("CHF", 2),
    ("JPY", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("BHD", 3),
    ("OMR", 3),
]

ALL_ACCOUNT_TYPES = ["SAVINGS", "FIXED_DEPOSIT", "RECURRING_DEPOSIT"]


def _seed() -> None:
    currencies = sa.table("currencies", sa.column("code", sa.Text), sa.column("minor_units", sa.SmallInteger))
    op.bulk_insert(currencies, [{"code": c, "minor_units": m} for c, m in CURRENCIES])
    config = sa.table(
        "interest_batch_config",
        sa.column("job_type", sa.Text),
        sa.column("batch_size", sa.Integer),
        sa.column("parallel_threads", sa.Integer),
        sa.column("max_retries", sa.Integer),
        sa.column("retry_interval_seconds", sa.Integer),
        sa.column("timeout_seconds", sa.Integer),
        sa.column("account_types", postgresql.ARRAY(sa.Text)),
        sa.column("custom_parameters", postgresql.JSONB),
        sa.column("cron_expression", sa.Text),
        sa.column("enabled", sa.Boolean),
        sa.column("description", sa.Text),
    )
    # 50,000 accounts a chunk keeps a million-account book at tens of Dagster steps.
    defaults = {
        "batch_size": 50_000,
        "parallel_threads": 2,
        "max_retries": 3,
        "retry_interval_seconds": 60,
        "timeout_seconds": 3600,
        "account_types": ALL_ACCOUNT_TYPES,
        "enabled": True,
    }
    op.bulk_insert(
        config,
        [
            {
                **defaults,
                "job_type": "daily_interest_accrual",
                "custom_parameters": {
                    "include_dormant_accounts": False,
                    "process_failed_accounts_first": True,
                },
                "cron_expression": "0 0 * * *",
                "description": "Accrues each eligible account's interest on the business date's end-of-day balance",
            },
            {
                **defaults,
                "job_type": "interest_posting",
                "custom_parameters": {"process_failed_accounts_first": True},
                "cron_expression": "0 1 * * *",
                "description": "Capitalizes un-posted accruals of the accounts due on the business date",
            },
        ],
    )


def _invariant_triggers() -> None:
    # Spec 1: every schedule has a tier at min_balance = 0. Checked at commit, so a schedule
    # may be written row by row in any order within one transaction.
    op.execute(
        """
        CREATE FUNCTION interest_rate_tiers_zero_tier() RETURNS trigger LANGUAGE plpgsql AS $fn$
        DECLARE
            r interest_rate_tiers%ROWTYPE;
        BEGIN
            r := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
            IF EXISTS (SELECT 1 FROM interest_rate_tiers t
                        WHERE t.product_code = r.product_code AND t.effective_from = r.effective_from)
               AND NOT EXISTS (SELECT 1 FROM interest_rate_tiers t
                        WHERE t.product_code = r.product_code AND t.effective_from = r.effective_from
                          AND t.min_balance = 0) THEN
                RAISE EXCEPTION 'rate schedule % from % has no tier at min_balance 0',
                    r.product_code, r.effective_from USING ERRCODE = 'check_violation';
            END IF;
            RETURN NULL;
        END
        $fn$
        """
    )
    op.execute(
        """
        CREATE CONSTRAINT TRIGGER trg_interest_rate_tiers_zero_tier
        AFTER INSERT OR UPDATE OR DELETE ON interest_rate_tiers
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION interest_rate_tiers_zero_tier()
        """
    )
    # A journal is written in one statement and must balance by itself; the ledger is append-only.
    op.execute(
        """
        CREATE FUNCTION ledger_entries_balanced() RETURNS trigger LANGUAGE plpgsql AS $fn$
        DECLARE
            bad record;
        BEGIN
            SELECT journal_key, sum(debit) AS debit, sum(credit) AS credit INTO bad
              FROM new_lines GROUP BY journal_key HAVING sum(debit) <> sum(credit) LIMIT 1;
            IF FOUND THEN
                RAISE EXCEPTION 'journal % does not balance: debit % credit %',
                    bad.journal_key, bad.debit, bad.credit USING ERRCODE = 'check_violation';
            END IF;
            RETURN NULL;
        END
        $fn$
        """
    )
    op.execute(
        """
        CREATE TRIGGER trg_ledger_entries_balanced AFTER INSERT ON ledger_entries
        REFERENCING NEW TABLE AS new_lines FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_balanced()
        """
    )
    op.execute(
        """
        CREATE FUNCTION ledger_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $fn$
        BEGIN
            RAISE EXCEPTION 'ledger_entries is append-only: post a reversing journal instead'
                USING ERRCODE = 'restrict_violation';
        END
        $fn$
        """
    )
    op.execute(
        """
        CREATE TRIGGER trg_ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
        FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only()
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER trg_ledger_entries_append_only ON ledger_entries")
    op.execute("DROP TRIGGER trg_ledger_entries_balanced ON ledger_entries")
    op.execute("DROP TRIGGER trg_interest_rate_tiers_zero_tier ON interest_rate_tiers")
    op.execute("DROP FUNCTION ledger_entries_append_only()")
    op.execute("DROP FUNCTION ledger_entries_balanced()")
    op.execute("DROP FUNCTION interest_rate_tiers_zero_tier()")
    op.drop_index(op.f("ix_interest_accruals_posting_id"), table_name="interest_accruals")
    op.drop_index(op.f("ix_interest_accruals_accrual_date"), table_name="interest_accruals")
    op.drop_table("interest_accruals")
    op.drop_index(op.f("ix_ledger_entries_value_date"), table_name="ledger_entries")
    op.drop_index(op.f("ix_ledger_entries_account_id"), table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_index(op.f("ix_interest_postings_posting_date"), table_name="interest_postings")
    op.drop_index(op.f("ix_interest_postings_account_id_posting_date"), table_name="interest_postings")
    op.drop_table("interest_postings")
    op.drop_index("ix_interest_batch_account_status_failed", table_name="interest_batch_account_status")
    op.drop_table("interest_batch_account_status")
    op.drop_index("ix_interest_batch_account_result_not_success", table_name="interest_batch_account_result")
    op.drop_index(
        op.f("ix_interest_batch_account_result_account_id_job_type_business_date"),
        table_name="interest_batch_account_result",
    )
    op.drop_table("interest_batch_account_result")
    op.drop_table("account_balances")
    op.drop_table("interest_rate_tiers")
    op.drop_index(op.f("ix_accounts_product_code"), table_name="accounts")
    op.drop_table("accounts")
    op.drop_table("interest_products")
    op.drop_index(op.f("ix_interest_batch_execution_started_at"), table_name="interest_batch_execution")
    op.drop_index(
        op.f("ix_interest_batch_execution_job_type_business_date_status"),
        table_name="interest_batch_execution",
    )
    op.drop_table("interest_batch_execution")
    op.drop_table("interest_batch_config")
    op.drop_table("currencies")

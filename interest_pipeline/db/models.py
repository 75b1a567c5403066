"""The schema, as typed SQLAlchemy models.

Section 1 tables are inputs owned by core banking in a real bank (shipped here so the
pipeline runs standalone); section 4 tables are the pipeline's outputs and execution
records. Column names are a contract with importers and downstream readers.
The migrations in `interest_pipeline/migrations/` create exactly this (a test compares the two).
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CHAR,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    Sequence,
    SmallInteger,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from interest_pipeline.domain.enums import (
    AccountStatus,
    AccountType,
    DayCount,
    ExecutionStatus,
    ExecutionTrigger,
    JobType,
    PostingFrequency,
    ResultStatus,
    TierMode,
    values,
)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# One named type per kind of number, so a money column can't quietly be declared otherwise.
Money = Numeric(19, 4, asdecimal=True)
"""Balances and posted amounts (gross, tax, net, journal lines)."""
Carry = Numeric(28, 10, asdecimal=True)
"""Accrued amounts and sub-unit carries: 10 decimals, as the spec rounds accruals."""
Rate = Numeric(9, 6, asdecimal=True)
"""Percent a year: 3.5 means 3.5 %."""
CurrencyCode = CHAR(3)

# The CHECK constraints' value lists come from the domain's vocabularies, the one place they are
# written (test_migrations compares these models with what the migrations created).
ACCOUNT_TYPES = values(AccountType)
DAY_COUNTS = values(DayCount)
POSTING_FREQUENCIES = values(PostingFrequency)
TIER_MODES = values(TierMode)
ACCOUNT_STATUSES = values(AccountStatus)
JOB_TYPES = values(JobType)
EXECUTION_TRIGGERS = values(ExecutionTrigger)
EXECUTION_STATUSES = values(ExecutionStatus)
RESULT_STATUSES = values(ResultStatus)


PROCESSING_TIME_COMMENT = (
    "Milliseconds from the start of the statement that wrote this row until it wrote it, divided "
    "by the number of rows it wrote: a share of that statement's time (the accrual chunk's whole "
    "statement; the posting chunk's results statement), not a measurement of this account."
)
"""interest_batch_account_result.processing_time_ms, as migration 0007 comments it."""


def one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def timestamp_now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


# --- Section 1: inputs -------------------------------------------------------------------


class Currency(Base):
    __tablename__ = "currencies"
    __table_args__ = (
        CheckConstraint("minor_units BETWEEN 0 AND 4", name="minor_units"),
        CheckConstraint("code ~ '^[A-Z]{3}$'", name="iso_code"),
    )

    code: Mapped[str] = mapped_column(CurrencyCode, primary_key=True)
    minor_units: Mapped[int] = mapped_column(SmallInteger, nullable=False)


class InterestProduct(Base):
    __tablename__ = "interest_products"
    __table_args__ = (
        CheckConstraint(one_of("account_type", ACCOUNT_TYPES), name="account_type"),
        CheckConstraint(one_of("day_count", DAY_COUNTS), name="day_count"),
        CheckConstraint(one_of("posting_frequency", POSTING_FREQUENCIES), name="posting_frequency"),
        CheckConstraint(one_of("tier_mode", TIER_MODES), name="tier_mode"),
        CheckConstraint("min_balance_for_interest >= 0", name="min_balance_non_negative"),
        CheckConstraint("withholding_tax_rate BETWEEN 0 AND 100", name="tax_rate_percent"),
    )

    code: Mapped[str] = mapped_column(Text, primary_key=True)
    account_type: Mapped[str] = mapped_column(Text, nullable=False)
    day_count: Mapped[str] = mapped_column(Text, nullable=False)
    posting_frequency: Mapped[str] = mapped_column(Text, nullable=False)
    tier_mode: Mapped[str] = mapped_column(Text, nullable=False)
    min_balance_for_interest: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    withholding_tax_rate: Mapped[Decimal] = mapped_column(Rate, nullable=False, server_default=text("0"))


class InterestRateTier(Base):
    """A product's rate schedule: the rows sharing the greatest effective_from <= D."""

    __tablename__ = "interest_rate_tiers"
    __table_args__ = (
        CheckConstraint("min_balance >= 0", name="min_balance_non_negative"),
        CheckConstraint("annual_rate >= 0", name="annual_rate_non_negative"),
    )

    product_code: Mapped[str] = mapped_column(
        Text, ForeignKey("interest_products.code", ondelete="CASCADE"), primary_key=True
    )
    effective_from: Mapped[date] = mapped_column(Date, primary_key=True)
    min_balance: Mapped[Decimal] = mapped_column(Money, primary_key=True)
    annual_rate: Mapped[Decimal] = mapped_column(Rate, nullable=False)


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint(one_of("status", ACCOUNT_STATUSES), name="status"),
        CheckConstraint("status <> 'CLOSED' OR closed_on IS NOT NULL", name="closed_needs_closed_on"),
        CheckConstraint("closed_on IS NULL OR closed_on >= opened_on", name="closed_after_opened"),
        CheckConstraint("maturity_date IS NULL OR maturity_date > opened_on", name="matures_after_opened"),
        CheckConstraint("rate_override IS NULL OR rate_override >= 0", name="rate_override_non_negative"),
        Index(None, "product_code"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    account_number: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    product_code: Mapped[str] = mapped_column(Text, ForeignKey("interest_products.code"), nullable=False)
    currency: Mapped[str] = mapped_column(CurrencyCode, ForeignKey("currencies.code"), nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    opened_on: Mapped[date] = mapped_column(Date, nullable=False)
    closed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    maturity_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    rate_override: Mapped[Decimal | None] = mapped_column(Rate, nullable=True)


class AccountBalance(Base):
    """Sparse end-of-day snapshots: D's balance is the latest row dated <= D."""

    __tablename__ = "account_balances"

    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    balance_date: Mapped[date] = mapped_column(Date, primary_key=True)
    closing_balance: Mapped[Decimal] = mapped_column(Money, nullable=False)


# --- Section 4: outputs ------------------------------------------------------------------


# One clock for accrual rows and postings (migration 0011): a posting capitalizes the rows of its
# account written before it. Not cached: every write draws the next value, so the order of the
# values is the order of the writes.
WRITE_SEQ = Sequence("interest_write_seq", metadata=Base.metadata)


class InterestPosting(Base):
    """One capitalization of an account's accruals (spec section 3), once per idempotency key.

    |carry_in| and |carry_out| are at most half a minor unit of the posting's currency
    (0.5 * 10^-minor_units: USD 0.005, JPY 0.5, KWD 0.0005), either sign. A check cannot read
    `currencies`, so migration 0007's statement-level triggers enforce it, one join per
    statement, raising check_violation as `ck_interest_postings_carry_within_half_minor_unit`.
    """

    __tablename__ = "interest_postings"
    __table_args__ = (
        CheckConstraint("gross >= 0 AND tax >= 0 AND net >= 0", name="amounts_non_negative"),
        CheckConstraint("gross = net + tax", name="gross_is_net_plus_tax"),
        CheckConstraint("gross = accrued + carry_in - carry_out", name="carry_reconciles"),
        CheckConstraint("is_final OR written_off = 0", name="write_off_only_when_final"),
        CheckConstraint("made_on >= posting_date", name="made_on_or_after_posting_date"),
        Index(None, "account_id", "posting_date"),
        Index(None, "posting_date"),
        # A run's postings, read by its close and its dry run (migration 0018): not a scan of history.
        Index(None, "execution_id"),
        # Unique, month first (migration 0017): a month end's keys land in one region of it.
        Index(
            "uq_interest_postings_idempotency_key",
            text("right(idempotency_key, 7)"),
            "idempotency_key",
            unique=True,
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("accounts.id"), nullable=False)
    posting_date: Mapped[date] = mapped_column(Date, nullable=False)
    idempotency_key: Mapped[str] = mapped_column(Text, nullable=False)
    # A known currency, checked once per statement (migration 0013: triggers, not a per-row key)
    currency: Mapped[str] = mapped_column(CurrencyCode, nullable=False)
    carry_in: Mapped[Decimal] = mapped_column(Carry, nullable=False)
    accrued: Mapped[Decimal] = mapped_column(Carry, nullable=False)
    gross: Mapped[Decimal] = mapped_column(Money, nullable=False)
    carry_out: Mapped[Decimal] = mapped_column(Carry, nullable=False)
    tax: Mapped[Decimal] = mapped_column(Money, nullable=False)
    net: Mapped[Decimal] = mapped_column(Money, nullable=False)
    withholding_tax_rate: Mapped[Decimal] = mapped_column(Rate, nullable=False)
    is_final: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    # On a final posting the remainder is not carried anywhere: it is written off, and said so.
    written_off: Mapped[Decimal] = mapped_column(Carry, nullable=False, server_default=text("0"))
    accrual_count: Mapped[int] = mapped_column(Integer, nullable=False)
    first_accrual_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    last_accrual_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    execution_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The business date of the posting run that made it: posting_date, or later for a posting
    # blocked on posting_date and made by the first posting run after its repair (spec section 3).
    made_on: Mapped[date] = mapped_column(Date, nullable=False)
    created_at: Mapped[datetime] = timestamp_now()
    # When it was made on the accrual rows' clock, drawn after accrual writers were locked out: it
    # capitalized its account's pending rows dated up to posting_date and written before it.
    write_seq: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=WRITE_SEQ.next_value())


class InterestAccrualEntry(Base):
    """One row per (account, business date), ever: the interest of the night D -> D+1.

    As written by the accrual job and never touched by a posting. Whether it is capitalized, when
    and by which posting is derived (the view `interest_accruals`, spec section 4): by the first
    posting of the account dated on or after it whose write_seq is greater than its own.
    """

    __tablename__ = "interest_accrual_entries"
    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount_non_negative"),
        CheckConstraint("balance > 0", name="balance_positive"),
        # A chunk reads date D's rows of accounts lo..hi as one range scan (migration 0003).
        Index(None, "accrual_date", "account_id"),
        # No (account_id, write_seq) index since migration 0015: a posting finds its back-dated rows
        # through interest_accrual_backdated, and every night's insert maintains one index fewer.
        # A posting sums an account's pending rows from the key's leaf entries alone, not from the
        # ~29 heap pages a month of nightly rows is spread over (migration 0012).
        PrimaryKeyConstraint("account_id", "accrual_date", postgresql_include=["amount", "write_seq"]),
        # One partition per month and a default one (migration 0015, db/partitions.py): a night's
        # inserts touch one month's indexes, however many years of rows lie behind them. The
        # partitions carry the vacuum settings (migration 0012), a partitioned table has no storage.
        {"postgresql_partition_by": "RANGE (accrual_date)"},
    )

    account_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("accounts.id"))
    accrual_date: Mapped[date] = mapped_column(Date)
    balance: Mapped[Decimal] = mapped_column(Money, nullable=False)
    amount: Mapped[Decimal] = mapped_column(Carry, nullable=False)
    execution_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = timestamp_now()
    updated_at: Mapped[datetime] = timestamp_now()
    write_seq: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=WRITE_SEQ.next_value())


class InterestAccrualBackdated(Base):
    """The accrual rows written while a posting of their account dated on or after them existed:
    back-dated rows (spec section 5: they go into the account's next posting).

    With the accruals partitioned by month, a posting finds the rows written after its account's
    previous posting though dated before it here, one probe per account of a table that holds
    only corrections, instead of probing every month's partition (migration 0015). A superset is
    harmless (the posting checks each row's write_seq); a row missing would be interest never
    posted, so the database records them itself: statement triggers on interest_accrual_entries
    (`trg_interest_accrual_entries_backdated_insert` and `_update`, migration 0015) insert every
    row written by any writer, the accrual job or a hand-made correction, whose account has a
    posting dated on or after it, in the statement that writes it.
    """

    __tablename__ = "interest_accrual_backdated"

    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("accounts.id"), primary_key=True, autoincrement=False
    )
    accrual_date: Mapped[date] = mapped_column(Date, primary_key=True)
    recorded_at: Mapped[datetime] = timestamp_now()


class LedgerEntry(Base):
    """Journal lines; a journal (one journal_key) balances, which a trigger enforces.

    Append-only: triggers reject UPDATE, DELETE (migration 0001) and TRUNCATE (0007, which also
    catches a TRUNCATE of accounts CASCADE). A correction is a reversing journal; the one path
    that empties a ledger on purpose is `interest_pipeline.data.generate.ledger_truncate_allowed`.
    """

    __tablename__ = "ledger_entries"
    __table_args__ = (
        # Unique on (journal_key, line_no), month first (migration 0017), as the postings' key.
        Index(
            "uq_ledger_entries_journal_key_line_no",
            text("right(journal_key, 7)"),
            "journal_key",
            "line_no",
            unique=True,
        ),
        CheckConstraint("line_no > 0", name="line_no_positive"),
        CheckConstraint("debit >= 0 AND credit >= 0", name="amounts_non_negative"),
        CheckConstraint("(debit > 0) <> (credit > 0)", name="one_side"),
        Index(None, "value_date"),
        Index(None, "account_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    journal_key: Mapped[str] = mapped_column(Text, nullable=False)
    line_no: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    gl_account: Mapped[str] = mapped_column(Text, nullable=False)
    account_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("accounts.id"), nullable=True)
    debit: Mapped[Decimal] = mapped_column(Money, nullable=False, server_default=text("0"))
    credit: Mapped[Decimal] = mapped_column(Money, nullable=False, server_default=text("0"))
    # A known currency, checked once per statement (migration 0013: triggers, not a per-row key)
    currency: Mapped[str] = mapped_column(CurrencyCode, nullable=False)
    value_date: Mapped[date] = mapped_column(Date, nullable=False)
    created_at: Mapped[datetime] = timestamp_now()


# --- Execution tables (the original design's batch module) --------------------------------


class InterestBatchConfig(Base):
    """Defaults for one job type; a run's config is merged over its row."""

    __tablename__ = "interest_batch_config"
    __table_args__ = (
        CheckConstraint(one_of("job_type", JOB_TYPES), name="job_type"),
        CheckConstraint("batch_size > 0", name="batch_size_positive"),
        CheckConstraint("parallel_threads > 0", name="parallel_threads_positive"),
        CheckConstraint("max_retries >= 0", name="max_retries_non_negative"),
        CheckConstraint("retry_interval_seconds >= 0", name="retry_interval_non_negative"),
        CheckConstraint("timeout_seconds > 0", name="timeout_positive"),
        CheckConstraint(
            "cardinality(account_types) > 0 AND account_types <@ "
            f"ARRAY[{', '.join(repr(t) for t in ACCOUNT_TYPES)}]::text[]",
            name="account_types",
        ),
        CheckConstraint("jsonb_typeof(custom_parameters) = 'object'", name="custom_parameters_object"),
        # Several named configurations per job type (migration 0008); runs without one use 'default'.
        UniqueConstraint("job_type", "name"),
        CheckConstraint("btrim(name) <> ''", name="name_not_blank"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    job_type: Mapped[str] = mapped_column(Text, nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'default'"))
    batch_size: Mapped[int] = mapped_column(Integer, nullable=False)
    parallel_threads: Mapped[int] = mapped_column(Integer, nullable=False)
    max_retries: Mapped[int] = mapped_column(Integer, nullable=False)
    retry_interval_seconds: Mapped[int] = mapped_column(Integer, nullable=False)
    timeout_seconds: Mapped[int] = mapped_column(Integer, nullable=False)
    account_types: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    custom_parameters: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    cron_expression: Mapped[str] = mapped_column(Text, nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = timestamp_now()
    updated_at: Mapped[datetime] = timestamp_now()
    # Who created / last changed the row through the API: a token's name or a JWT's subject.
    created_by: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_by: Mapped[str | None] = mapped_column(Text, nullable=True)


class InterestBatchExecution(Base):
    """One row per job and business date a Dagster run processed: the run id is the key of a
    single-date run's row; a ranged run's rows are `<run id>~<job type>~<date>`
    (batch.executions.ranged_execution_id)."""

    __tablename__ = "interest_batch_execution"
    __table_args__ = (
        CheckConstraint(one_of("job_type", JOB_TYPES), name="job_type"),
        CheckConstraint(one_of("trigger", EXECUTION_TRIGGERS), name="trigger"),
        CheckConstraint(one_of("status", EXECUTION_STATUSES), name="status"),
        CheckConstraint("(status = 'RUNNING') = (completed_at IS NULL)", name="completed_when_not_running"),
        CheckConstraint(
            "accounts_processed = accounts_succeeded + accounts_skipped + accounts_failed",
            name="counts_add_up",
        ),
        CheckConstraint("worker_pid > 0", name="worker_pid_positive"),
        Index(None, "job_type", "business_date", "status"),
        Index(None, "started_at"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    job_type: Mapped[str] = mapped_column(Text, nullable=False)
    business_date: Mapped[date] = mapped_column(Date, nullable=False)
    trigger: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    parameters: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    # The run's scope, kept as columns so completeness checks can ask "did a finished run cover this account?"
    account_ids: Mapped[list[int] | None] = mapped_column(ARRAY(BigInteger), nullable=True)
    account_types: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    include_dormant: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    total_chunks: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    chunks_completed: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    accounts_processed: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    accounts_succeeded: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    accounts_skipped: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    accounts_failed: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    # The run's amounts, one exact decimal string per currency: {"USD": "8.4900", "JPY": "12"}.
    # There is no cross-currency total (migration 0007 dropped total_amount): it would mean nothing.
    totals_by_currency: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    started_at: Mapped[datetime] = timestamp_now()
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The run worker (migration 0009): the next run closes a RUNNING row only if this process is gone.
    worker_host: Mapped[str | None] = mapped_column(Text, nullable=True)
    worker_pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # When the alert for the execution's end was sent; NULL while none was (sent once).
    alerted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class InterestBatchAccountResult(Base):
    """One row per account and date an execution processed: success, skip with reason, or failure.

    A log written a million rows a day, so it carries only the keys its readers need: no
    surrogate id, and no per-row foreign key to `accounts` (an input that may be a view onto
    core banking's replica). The execution it belongs to is enforced like a foreign key but
    once per statement (migration 0005's triggers: checked and key-share locked on insert,
    results deleted with their execution), since a chunk's 50,000 results share one execution.

    `processing_time_ms` is a statement's time per row, not a per-account measurement: the
    milliseconds the statement writing the row had run when it wrote it, divided by the number of
    rows it wrote. For an accrual chunk that statement computes the whole chunk first, for a
    posting chunk it is the statement that writes the results after the postings; all rows of
    one chunk carry about the same figure (PROCESSING_TIME_COMMENT, the column's comment).
    """

    __tablename__ = "interest_batch_account_result"
    __table_args__ = (
        CheckConstraint(one_of("job_type", JOB_TYPES), name="job_type"),
        CheckConstraint(one_of("status", RESULT_STATUSES), name="status"),
        CheckConstraint("status = 'SUCCESS' OR reason IS NOT NULL", name="reason_when_not_success"),
        # A posting's results of one account and due date, latest first (the posting runs' owed
        # check, the explain and month reports): a posting date's results are a few per account a
        # month. Accrual results, one per account a day, have no per-account index (migration
        # 0014): their readers go through the date's executions and the primary key.
        Index(
            "ix_interest_batch_account_result_posting_results",
            "account_id",
            "business_date",
            postgresql_where=text("job_type = 'interest_posting'"),
        ),
        # "What failed or was skipped on D" reads only the few rows that are not SUCCESS.
        Index(
            "ix_interest_batch_account_result_not_success",
            "job_type",
            "business_date",
            "status",
            postgresql_where=text("status <> 'SUCCESS'"),
        ),
        # Where every posting run looks for the postings owed from earlier due dates.
        Index(
            "ix_interest_batch_account_result_failed_postings",
            "account_id",
            "business_date",
            postgresql_where=text("job_type = 'interest_posting' AND status = 'FAILED'"),
        ),
        # The API's page of one execution's FAILED (or SKIPPED) results and its count (migration 0008).
        Index(
            "ix_interest_batch_account_result_execution_not_success",
            "execution_id",
            "status",
            "account_id",
            postgresql_where=text("status <> 'SUCCESS'"),
        ),
    )

    execution_id: Mapped[str] = mapped_column(Text, primary_key=True)
    account_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    job_type: Mapped[str] = mapped_column(Text, nullable=False)
    # The date the result is about: the run's business date, except for a posting owed from an
    # earlier due date P, whose result (made, or still blocked) carries P. Hence part of the key.
    business_date: Mapped[date] = mapped_column(Date, primary_key=True)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    # Accrual: the amount accrued; posting: the gross posted.
    amount: Mapped[Decimal | None] = mapped_column(Carry, nullable=True)
    # Set when a re-run recomputed an ACCRUED row to a different amount: the difference is reported.
    previous_amount: Mapped[Decimal | None] = mapped_column(Carry, nullable=True)
    currency: Mapped[str | None] = mapped_column(CurrencyCode, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Not this account's own time: see PROCESSING_TIME_COMMENT (the column's comment).
    processing_time_ms: Mapped[Decimal | None] = mapped_column(
        Numeric(12, 3), nullable=True, comment=PROCESSING_TIME_COMMENT
    )
    created_at: Mapped[datetime] = timestamp_now()


class InterestBatchAccountStatus(Base):
    """The latest state of each account per job type (never moved back by a backfill), and the
    first date it has a result for (moved back by one).

    Rewritten for every account every day: fillfactor 70 (migration 0001) leaves room on each
    page so those updates stay HOT, and the only secondary index is partial, on failures.
    """

    __tablename__ = "interest_batch_account_status"
    __table_args__ = (
        CheckConstraint(one_of("job_type", JOB_TYPES), name="job_type"),
        CheckConstraint(one_of("last_status", RESULT_STATUSES), name="last_status"),
        CheckConstraint("consecutive_failures >= 0", name="consecutive_failures_non_negative"),
        CheckConstraint("first_business_date <= last_business_date", name="first_date_not_after_last"),
        Index(
            "ix_interest_batch_account_status_failed",
            "job_type",
            "account_id",
            postgresql_where=text("last_status = 'FAILED'"),
        ),
    )

    account_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    job_type: Mapped[str] = mapped_column(Text, primary_key=True)
    last_business_date: Mapped[date] = mapped_column(Date, nullable=False)
    # The earliest date the account has a result of this job for (migration 0014): the posting's
    # completeness check counts an account's missing accrual dates from it.
    first_business_date: Mapped[date] = mapped_column(Date, nullable=False)
    last_status: Mapped[str] = mapped_column(Text, nullable=False)
    last_execution_id: Mapped[str] = mapped_column(Text, nullable=False)
    last_success_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    consecutive_failures: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = timestamp_now()


# --- Section 5: the operations API ------------------------------------------------------------

API_ROLES = ("admin", "user")


class ApiToken(Base):
    """A bearer token of the operations API; only its SHA-256 is kept, never the token."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        CheckConstraint(one_of("role", API_ROLES), name="role"),
        CheckConstraint("token_sha256 ~ '^[0-9a-f]{64}$'", name="sha256_hex"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    role: Mapped[str] = mapped_column(Text, nullable=False)
    token_sha256: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    created_at: Mapped[datetime] = timestamp_now()
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

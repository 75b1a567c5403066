"""no cross-currency total; carries within half a minor unit; the ledger refuses TRUNCATE

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

- interest_batch_execution.total_amount summed USD, JPY, KWD ... into one number that means
  nothing. Dropped; totals_by_currency (exact decimal strings per currency) is the run's total.
- ck_interest_postings_carry_below_one_unit allowed |carry| <= 0.5 in major units for every
  currency: 100 times too loose for USD. Spec section 3 makes carry_out = carry_in + sum - gross
  with gross rounded half-even to the currency's minor unit, so a carry is never more than half a
  minor unit: |carry_in|, |carry_out| <= 0.5 * 10^-minor_units (USD 0.005, JPY 0.5, KWD 0.0005),
  either sign. A CHECK cannot read `currencies`, so statement-level triggers after INSERT and
  UPDATE check all new rows with one join (a posting chunk inserts ~50,000 rows in one statement),
  as migration 0005 does for account results, and raise check_violation under the name
  ck_interest_postings_carry_within_half_minor_unit, naming the posting's key. Existing rows
  are checked once here, so the upgrade fails rather than keep a posting the rule forbids.
- ledger_entries is append-only, but its row triggers do not see TRUNCATE (nor TRUNCATE of
  accounts CASCADE, which reaches it through its foreign key): a BEFORE TRUNCATE trigger now
  raises restrict_violation as UPDATE and DELETE do. The one way to empty a ledger on purpose
  is interest_pipeline.data.generate.ledger_truncate_allowed (generate --replace --discard-ledger).
- interest_batch_account_result.processing_time_ms keeps its name (readers of the original
  execution tables use it) and gets a comment saying exactly what it measures.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_CARRY_CHECK = "ck_interest_postings_carry_below_one_unit"
# What PostgreSQL reports as the violated constraint (a trigger's, so not in pg_constraint).
CARRY_CONSTRAINT = "ck_interest_postings_carry_within_half_minor_unit"
TRUNCATE_TRIGGER = "trg_ledger_entries_no_truncate"
PROCESSING_TIME_COMMENT = (
    "Milliseconds from the start of the statement that wrote this row until it wrote it, divided "
    "by the number of rows it wrote: a share of that statement's time (the accrual chunk's whole "
    "statement; the posting chunk's results statement), not a measurement of this account."
)

# The posting rows of one statement that break the rule; the first is reported.
CARRY_VIOLATIONS = """
    SELECT p.idempotency_key, p.currency, c.minor_units, p.carry_in, p.carry_out,
           trim_scale(0.5 * power(10::numeric, -c.minor_units)) AS half_unit
      FROM {rows} p JOIN currencies c ON c.code = p.currency
     WHERE greatest(abs(p.carry_in), abs(p.carry_out)) > 0.5 * power(10::numeric, -c.minor_units)
"""


def upgrade() -> None:
    op.drop_column("interest_batch_execution", "total_amount")

    bad = op.get_bind().execute(sa.text(CARRY_VIOLATIONS.format(rows="interest_postings") + " LIMIT 1"))
    if (row := bad.first()) is not None:
        raise RuntimeError(
            f"posting {row.idempotency_key} carries more than half a minor unit of {row.currency}"
        )
    op.drop_constraint(op.f(OLD_CARRY_CHECK), "interest_postings", type_="check")
    op.execute(
        f"""
        CREATE FUNCTION interest_postings_carry_within_half_minor_unit() RETURNS trigger
        LANGUAGE plpgsql AS $fn$
        DECLARE
            bad record;
        BEGIN
            {CARRY_VIOLATIONS.format(rows="new_postings").strip()}
             LIMIT 1 INTO bad;
            IF FOUND THEN
                RAISE EXCEPTION 'posting % (%) carries in % and out %: a carry is at most half a minor unit of % (% with % minor units)',
                    bad.idempotency_key, bad.currency, bad.carry_in, bad.carry_out, bad.currency,
                    bad.half_unit, bad.minor_units
                    USING ERRCODE = 'check_violation', CONSTRAINT = '{CARRY_CONSTRAINT}',
                          TABLE = 'interest_postings';
            END IF;
            RETURN NULL;
        END
        $fn$
        """
    )
    # (a trigger with a transition table takes one event, so one trigger per event)
    for event in ("INSERT", "UPDATE"):
        op.execute(
            f"""
            CREATE TRIGGER trg_interest_postings_carry_{event.lower()}
            AFTER {event} ON interest_postings
            REFERENCING NEW TABLE AS new_postings
            FOR EACH STATEMENT EXECUTE FUNCTION interest_postings_carry_within_half_minor_unit()
            """
        )

    # The function of the UPDATE and DELETE guard (migration 0001) raises whatever the event.
    op.execute(
        f"""
        CREATE TRIGGER {TRUNCATE_TRIGGER} BEFORE TRUNCATE ON ledger_entries
        FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_append_only()
        """
    )

    op.alter_column(
        "interest_batch_account_result",
        "processing_time_ms",
        existing_type=sa.Numeric(12, 3),
        existing_nullable=True,
        comment=PROCESSING_TIME_COMMENT,
    )


def downgrade() -> None:
    op.alter_column(
        "interest_batch_account_result",
        "processing_time_ms",
        existing_type=sa.Numeric(12, 3),
        existing_nullable=True,
        comment=None,
        existing_comment=PROCESSING_TIME_COMMENT,
    )
    op.execute(f"DROP TRIGGER {TRUNCATE_TRIGGER} ON ledger_entries")
    op.execute("DROP TRIGGER trg_interest_postings_carry_update ON interest_postings")
    op.execute("DROP TRIGGER trg_interest_postings_carry_insert ON interest_postings")
    op.execute("DROP FUNCTION interest_postings_carry_within_half_minor_unit()")
    # Looser than the rule just dropped, so every row that passed it passes this.
    op.create_check_constraint(
        op.f(OLD_CARRY_CHECK), "interest_postings", "abs(carry_in) <= 0.5 AND abs(carry_out) <= 0.5"
    )
    op.add_column(
        "interest_batch_execution",
        sa.Column("total_amount", sa.Numeric(28, 10), server_default=sa.text("0"), nullable=False),
    )
    # What the column held: the sum over currencies of the per-currency totals.
    op.execute(
        """
        UPDATE interest_batch_execution e
           SET total_amount = (SELECT coalesce(sum(value::numeric), 0)
                                 FROM jsonb_each_text(e.totals_by_currency))
        """
    )

"""capitalization without rewriting accrual rows: postings record what they capitalized

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02

A posting used to capitalize its accruals by updating every one of them (status, capitalization
date, posting id): ~13 M row versions, index entries and foreign-key checks at a 1M-account month
end, the bulk of its time (issue 12). Now each accrual row carries the moment it was written,
`write_seq`, drawn from one sequence shared with the postings, and a posting records its own
`write_seq`, drawn after it has locked out accrual writers. A posting of P capitalizes exactly
the rows of its account dated up to P, written before it, and not capitalized by an earlier posting
of the account: spec section 5 holds as before (a capitalized row is never rewritten; a row
written after a posting, back-dated or not, goes into the next one).

The rows move to `interest_accrual_entries` (never updated once capitalized, never updated by a
posting at all), and `interest_accruals` becomes a view with the contract's columns (spec
section 4): status, capitalization_date and posting_id are derived from the postings. The view is
automatically updatable for the stored columns, so readers and writers of those keep working.

Existing rows get write_seq so that the derivation gives what the columns said: the postings
2 * id, each capitalized row 2 * its posting id - 1 (after the account's earlier postings, before
its own), every ACCRUED row one more than the largest of them. The sequence starts above all.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEQUENCE = "interest_write_seq"
ENTRIES = "interest_accrual_entries"
VIEW = "interest_accruals"

# The posting that capitalized entry e: the account's first posting (in date order, which is the
# order they are made in) dated on or after the accrual and made after the row was written.
CAPITALIZED_BY = """
    SELECT {column} FROM interest_postings p
     WHERE p.account_id = e.account_id AND p.posting_date >= e.accrual_date
       AND p.write_seq > e.write_seq
     ORDER BY p.posting_date, p.id
     LIMIT 1
"""

VIEW_SQL = f"""
CREATE VIEW {VIEW} AS
SELECT e.account_id, e.accrual_date, e.balance, e.amount,
       CASE WHEN EXISTS ({CAPITALIZED_BY.format(column="1")}) THEN 'CAPITALIZED' ELSE 'ACCRUED' END
           AS status,
       ({CAPITALIZED_BY.format(column="p.posting_date")}) AS capitalization_date,
       ({CAPITALIZED_BY.format(column="p.id")}) AS posting_id,
       e.execution_id, e.created_at, e.updated_at, e.write_seq
  FROM {ENTRIES} e
"""

VIEW_COMMENT = (
    "The accruals as spec section 4 states them. status, capitalization_date and posting_id are"
    " derived: a posting capitalizes the rows of its account dated on or before its posting_date"
    " and written before it (write_seq), that no earlier posting of the account capitalized."
)

RENAMES = [
    ("INDEX", "pk_interest_accruals", "pk_interest_accrual_entries"),
    (
        "INDEX",
        "ix_interest_accruals_accrual_date_account_id",
        "ix_interest_accrual_entries_accrual_date_account_id",
    ),
]
CONSTRAINT_RENAMES = [
    ("ck_interest_accruals_amount_non_negative", "ck_interest_accrual_entries_amount_non_negative"),
    ("ck_interest_accruals_balance_positive", "ck_interest_accrual_entries_balance_positive"),
    ("fk_interest_accruals_account_id_accounts", "fk_interest_accrual_entries_account_id_accounts"),
]


def upgrade() -> None:
    op.execute(f"CREATE SEQUENCE {SEQUENCE} AS bigint")
    op.execute("ALTER TABLE interest_postings ADD COLUMN write_seq bigint")
    op.execute("UPDATE interest_postings SET write_seq = 2 * id")
    op.execute("ALTER TABLE interest_postings ALTER COLUMN write_seq SET NOT NULL")
    # The posting job sets it after locking accrual writers out; the default serves other writers.
    op.execute(f"ALTER TABLE interest_postings ALTER COLUMN write_seq SET DEFAULT nextval('{SEQUENCE}')")

    op.execute("DROP INDEX ix_interest_accruals_pending")
    op.execute("DROP INDEX ix_interest_accruals_posting_id")
    op.execute("ALTER TABLE interest_accruals DROP CONSTRAINT ck_interest_accruals_capitalized_has_posting")
    op.execute("ALTER TABLE interest_accruals DROP CONSTRAINT ck_interest_accruals_status")
    op.execute(
        "ALTER TABLE interest_accruals DROP CONSTRAINT fk_interest_accruals_posting_id_interest_postings"
    )
    op.execute(f"ALTER TABLE interest_accruals RENAME TO {ENTRIES}")
    for _, old, new in RENAMES:
        op.execute(f"ALTER INDEX {old} RENAME TO {new}")
    for old, new in CONSTRAINT_RENAMES:
        op.execute(f"ALTER TABLE {ENTRIES} RENAME CONSTRAINT {old} TO {new}")

    # Every ACCRUED row above every posting; a capitalized one just below its own posting.
    op.execute(
        f"""
        DO $$
        DECLARE pending bigint := 2 * coalesce((SELECT max(id) FROM interest_postings), 0) + 1;
        BEGIN
            EXECUTE format('ALTER TABLE {ENTRIES} ADD COLUMN write_seq bigint NOT NULL DEFAULT %s', pending);
            UPDATE {ENTRIES} SET write_seq = 2 * posting_id - 1 WHERE posting_id IS NOT NULL;
            PERFORM setval('{SEQUENCE}', pending + 1);
        END $$
        """
    )
    op.execute(f"ALTER TABLE {ENTRIES} ALTER COLUMN write_seq SET DEFAULT nextval('{SEQUENCE}')")
    op.execute(
        f"ALTER TABLE {ENTRIES} DROP COLUMN status, DROP COLUMN capitalization_date, DROP COLUMN posting_id"
    )
    # What a posting reads of an account beyond its date range: rows written after the previous
    # posting though dated before it (back-dated), found in the index without visiting the heap.
    op.execute(
        f"CREATE INDEX ix_{ENTRIES}_account_id_write_seq_accrual_date"
        f" ON {ENTRIES} (account_id, write_seq, accrual_date)"
    )
    op.execute(VIEW_SQL)
    op.execute(f"COMMENT ON VIEW {VIEW} IS '{VIEW_COMMENT}'")


def downgrade() -> None:
    op.execute(f"ALTER TABLE {ENTRIES} ADD COLUMN status text NOT NULL DEFAULT 'ACCRUED'")
    op.execute(f"ALTER TABLE {ENTRIES} ADD COLUMN capitalization_date date, ADD COLUMN posting_id bigint")
    op.execute(
        f"""
        UPDATE {ENTRIES} e SET status = 'CAPITALIZED', capitalization_date = v.capitalization_date,
               posting_id = v.posting_id
          FROM {VIEW} v
         WHERE v.account_id = e.account_id AND v.accrual_date = e.accrual_date AND v.posting_id IS NOT NULL
        """
    )
    op.execute(f"DROP VIEW {VIEW}")
    op.execute(f"DROP INDEX ix_{ENTRIES}_account_id_write_seq_accrual_date")
    op.execute(f"ALTER TABLE {ENTRIES} DROP COLUMN write_seq")
    for old, new in CONSTRAINT_RENAMES:
        op.execute(f"ALTER TABLE {ENTRIES} RENAME CONSTRAINT {new} TO {old}")
    for _, old, new in RENAMES:
        op.execute(f"ALTER INDEX {new} RENAME TO {old}")
    op.execute(f"ALTER TABLE {ENTRIES} RENAME TO interest_accruals")
    op.execute(
        "ALTER TABLE interest_accruals ADD CONSTRAINT ck_interest_accruals_status"
        " CHECK (status IN ('ACCRUED', 'CAPITALIZED'))"
    )
    op.execute(
        "ALTER TABLE interest_accruals ADD CONSTRAINT ck_interest_accruals_capitalized_has_posting"
        " CHECK ((status = 'CAPITALIZED') = (posting_id IS NOT NULL AND capitalization_date IS NOT NULL))"
    )
    op.execute(
        "ALTER TABLE interest_accruals ADD CONSTRAINT fk_interest_accruals_posting_id_interest_postings"
        " FOREIGN KEY (posting_id) REFERENCES interest_postings (id)"
    )
    op.execute("CREATE INDEX ix_interest_accruals_posting_id ON interest_accruals (posting_id)")
    op.execute(
        "CREATE INDEX ix_interest_accruals_pending ON interest_accruals (account_id, accrual_date)"
        " WHERE status = 'ACCRUED'"
    )
    op.execute("ALTER TABLE interest_postings DROP COLUMN write_seq")
    op.execute(f"DROP SEQUENCE {SEQUENCE}")

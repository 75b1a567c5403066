"""accrual rows partitioned by month; back-dated rows recorded where a posting finds them

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03

One table of every accrual row ever written meant indexes spanning all history: each night's
~1,000,000 inserts touched a leaf page per account of a primary key that grows by a month's rows
every month and soon no longer fits in memory, so the accrual of one date and the posting of one
month end grew with the years behind them (issue 12: 1.6x after three months at 100,000
accounts). `interest_accrual_entries` becomes partitioned by RANGE (accrual_date), a partition per
month (`interest_accrual_entries_y2026m01`) and a DEFAULT one; the jobs create the month ahead
(db/partitions.py). Keys, indexes, constraints and the view `interest_accruals` are as before.

A posting also reads the rows written after its account's previous posting though dated before
it (spec section 5, back-dated). By (account_id, write_seq) that would be a probe of every month's
partition per due account; instead such rows are recorded in `interest_accrual_backdated`, a
table of corrections only, probed once per due account, and the (account_id, write_seq) index,
which only that read used, is gone: one index fewer for every night's insert. The database
records them itself, whoever writes: a statement trigger with the statement's rows as a transition
table, so a correction made by hand through the view is posted as surely as a re-run's. A night's
run dates after every posting: the trigger then costs one probe of the postings' date index.
Filled here from the existing rows: those written after a posting of their account dated on or
after them.

The rows are moved month by month into the new table: on a large database this migration takes
about as long as copying the accruals (minutes per hundred million rows) and holds the table
exclusively meanwhile; run it in a maintenance window.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENTRIES = "interest_accrual_entries"
OLD = "interest_accrual_entries_unpartitioned"
VIEW = "interest_accruals"
BACKDATED = "interest_accrual_backdated"
RECORD_BACKDATED = "interest_accrual_record_backdated"
BACKDATED_TRIGGERS = {
    "INSERT": f"trg_{ENTRIES}_backdated_insert",
    "UPDATE": f"trg_{ENTRIES}_backdated_update",
}
PRIMARY_KEY = f"pk_{ENTRIES}"
DATE_INDEX = f"ix_{ENTRIES}_accrual_date_account_id"
WRITE_INDEX = f"ix_{ENTRIES}_account_id_write_seq_accrual_date"
ACCOUNT_FK = f"fk_{ENTRIES}_account_id_accounts"
STORAGE = "autovacuum_vacuum_insert_threshold = 500000, autovacuum_vacuum_insert_scale_factor = 0"

# As migration 0011 made it: status, capitalization date and posting derived from the postings.
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

# A partition per month from the first row's month (or this one) to the month after the last row's
# (or after this one), each filled from the old table in one INSERT.
MONTH_PARTITIONS = f"""
DO $$
DECLARE
    month date;
    last_month date;
    name text;
BEGIN
    SELECT date_trunc('month', least(min(accrual_date), current_date))::date,
           (date_trunc('month', greatest(max(accrual_date), current_date)) + interval '1 month')::date
      INTO month, last_month
      FROM {OLD};
    WHILE month <= last_month LOOP
        name := format('{ENTRIES}_y%sm%s', to_char(month, 'YYYY'), to_char(month, 'MM'));
        EXECUTE format('CREATE TABLE %I PARTITION OF {ENTRIES} FOR VALUES FROM (%L) TO (%L) WITH ({STORAGE})',
                       name, month, (month + interval '1 month')::date);
        EXECUTE format('INSERT INTO %I SELECT * FROM {OLD} WHERE accrual_date >= %L AND accrual_date < %L',
                       name, month, (month + interval '1 month')::date);
        month := (month + interval '1 month')::date;
    END LOOP;
END $$
"""


def set_aside(indexes: tuple[str, ...]) -> None:
    """The view dropped, the table and its `indexes` and foreign key renamed to OLD's names, so
    that the new table takes the names."""
    op.execute(f"DROP VIEW {VIEW}")
    op.execute(f"ALTER TABLE {ENTRIES} RENAME TO {OLD}")
    for index in indexes:
        op.execute(f"ALTER INDEX {index} RENAME TO {index.replace(ENTRIES, OLD)}")
    op.execute(f"ALTER TABLE {OLD} RENAME CONSTRAINT {ACCOUNT_FK} TO {ACCOUNT_FK.replace(ENTRIES, OLD)}")


def add_keys() -> None:
    """The key (with the columns a posting reads from it, 0012), the foreign key, the date index."""
    op.execute(
        f"ALTER TABLE {ENTRIES} ADD CONSTRAINT {PRIMARY_KEY}"
        " PRIMARY KEY (account_id, accrual_date) INCLUDE (amount, write_seq)"
    )
    op.execute(
        f"ALTER TABLE {ENTRIES} ADD CONSTRAINT {ACCOUNT_FK} FOREIGN KEY (account_id) REFERENCES accounts (id)"
    )
    op.execute(f"CREATE INDEX {DATE_INDEX} ON {ENTRIES} (accrual_date, account_id)")


def create_view() -> None:
    op.execute(VIEW_SQL)
    op.execute(f"COMMENT ON VIEW {VIEW} IS '{VIEW_COMMENT}'")


def upgrade() -> None:
    set_aside((PRIMARY_KEY, DATE_INDEX, WRITE_INDEX))
    # Columns, NOT NULLs, defaults (write_seq's nextval) and CHECKs as they were.
    op.execute(
        f"CREATE TABLE {ENTRIES} (LIKE {OLD} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        " PARTITION BY RANGE (accrual_date)"
    )
    add_keys()
    op.execute(f"CREATE TABLE {ENTRIES}_default PARTITION OF {ENTRIES} DEFAULT WITH ({STORAGE})")
    op.execute(MONTH_PARTITIONS)
    op.execute(f"DROP TABLE {OLD}")
    op.execute(f"ANALYZE {ENTRIES}")
    create_view()

    op.execute(
        f"""
        CREATE TABLE {BACKDATED} (
            account_id bigint NOT NULL,
            accrual_date date NOT NULL,
            recorded_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_{BACKDATED} PRIMARY KEY (account_id, accrual_date),
            CONSTRAINT fk_{BACKDATED}_account_id_accounts FOREIGN KEY (account_id) REFERENCES accounts (id)
        )
        """
    )
    # The rows written after a posting of their account dated on or after them.
    op.execute(
        f"""
        INSERT INTO {BACKDATED} (account_id, accrual_date)
        SELECT e.account_id, e.accrual_date FROM {ENTRIES} e
         WHERE EXISTS (SELECT 1 FROM interest_postings p
                        WHERE p.account_id = e.account_id AND p.posting_date >= e.accrual_date
                          AND p.write_seq < e.write_seq)
        """
    )
    # From now on by the database, for every writer. A row of a date on or before one of its
    # account's postings, written now, was written after that posting (postings and accrual
    # writers are serialized by the posting's SHARE lock, db/capitalization.py): back-dated.
    # The first condition, one probe of the postings' date index, settles a night's run.
    op.execute(
        f"""
        CREATE FUNCTION {RECORD_BACKDATED}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO {BACKDATED} (account_id, accrual_date)
            SELECT w.account_id, w.accrual_date FROM written w
             WHERE w.accrual_date <= (SELECT max(last.posting_date) FROM interest_postings last)
               AND EXISTS (SELECT 1 FROM interest_postings p
                            WHERE p.account_id = w.account_id AND p.posting_date >= w.accrual_date)
            ON CONFLICT (account_id, accrual_date) DO NOTHING;
            RETURN NULL;
        END $$
        """
    )
    # One per event: a transition table belongs to a trigger of one event (an upsert fires both).
    for event, trigger in BACKDATED_TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {trigger} AFTER {event} ON {ENTRIES} REFERENCING NEW TABLE AS written"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {RECORD_BACKDATED}()"
        )


def downgrade() -> None:
    for trigger in BACKDATED_TRIGGERS.values():
        op.execute(f"DROP TRIGGER {trigger} ON {ENTRIES}")
    op.execute(f"DROP FUNCTION {RECORD_BACKDATED}()")
    op.execute(f"DROP TABLE {BACKDATED}")
    set_aside((PRIMARY_KEY, DATE_INDEX))
    op.execute(
        f"CREATE TABLE {ENTRIES} (LIKE {OLD} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) WITH ({STORAGE})"
    )
    op.execute(f"INSERT INTO {ENTRIES} SELECT * FROM {OLD} ORDER BY accrual_date, account_id")
    op.execute(f"DROP TABLE {OLD}")
    add_keys()
    op.execute(f"CREATE INDEX {WRITE_INDEX} ON {ENTRIES} (account_id, write_seq, accrual_date)")
    create_view()

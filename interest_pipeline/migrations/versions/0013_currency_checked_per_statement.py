"""postings and journal lines: their currency checked once per statement, not once per row

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02

A posting chunk writes ~21,000 postings and ~46,000 journal lines in two statements, all in the
few currencies of the book. The foreign keys to `currencies` checked (and key-share locked) the
same handful of rows once per row: 0.17 s of the postings' insert and 0.53 s of the lines' at
50,000 accounts (EXPLAIN ANALYZE, docs/benchmarks.md), and with two chunks at once each shared
row lock becomes a MultiXact that both keep re-reading. Migration 0005 did the same for the
account results' execution.

The same guarantees, set-based:
- after each INSERT or UPDATE of postings or lines, one statement-level trigger locks every
  distinct currency the new rows name FOR KEY SHARE, as the foreign key's check did, and fails
  with foreign_key_violation under the old constraint's name if one is missing;
- a currency that postings or lines name cannot be deleted or have its code changed (the old
  ON DELETE / ON UPDATE NO ACTION): because the insert check holds its key-share lock until
  commit, a delete waits for an inserting chunk and then finds its rows;
- TRUNCATE of currencies still needs CASCADE through accounts (whose foreign key stays), and
  so reaches postings and lines through their accounts' keys, which stay too.
The account foreign keys stay per row: ~21,000 distinct accounts per chunk, no shared row.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("interest_postings", "ledger_entries")


def fk_name(table: str) -> str:
    return f"fk_{table}_currency_currencies"


def upgrade() -> None:
    for table in TABLES:
        op.drop_constraint(fk_name(table), table, type_="foreignkey")
        op.execute(
            f"""
            CREATE FUNCTION {table}_currency_exists() RETURNS trigger
            LANGUAGE plpgsql AS $fn$
            DECLARE
                named bigint;
                locked bigint;
                missing text;
            BEGIN
                SELECT count(DISTINCT currency) INTO named FROM new_rows;
                SELECT count(*) INTO locked FROM (
                    SELECT 1 FROM currencies c
                     WHERE c.code IN (SELECT currency FROM new_rows)
                       FOR KEY SHARE OF c) l;
                IF locked < named THEN
                    SELECT n.currency INTO missing FROM new_rows n
                     WHERE NOT EXISTS (SELECT 1 FROM currencies c WHERE c.code = n.currency)
                     LIMIT 1;
                    RAISE EXCEPTION '{table} row refers to currency %, which does not exist', missing
                        USING ERRCODE = 'foreign_key_violation', CONSTRAINT = '{fk_name(table)}',
                              TABLE = '{table}';
                END IF;
                RETURN NULL;
            END
            $fn$
            """
        )
        for event in ("INSERT", "UPDATE"):
            op.execute(
                f"""
                CREATE TRIGGER trg_{table}_currency_{event.lower()}
                AFTER {event} ON {table}
                REFERENCING NEW TABLE AS new_rows
                FOR EACH STATEMENT EXECUTE FUNCTION {table}_currency_exists()
                """
            )
    op.execute(
        f"""
        CREATE FUNCTION currencies_still_referenced() RETURNS trigger
        LANGUAGE plpgsql AS $fn$
        DECLARE
            used text;
        BEGIN
            SELECT o.code INTO used FROM old_codes o
             WHERE NOT EXISTS (SELECT 1 FROM currencies c WHERE c.code = o.code)
               AND (EXISTS (SELECT 1 FROM interest_postings p WHERE p.currency = o.code)
                    OR EXISTS (SELECT 1 FROM ledger_entries l WHERE l.currency = o.code))
             LIMIT 1;
            IF used IS NOT NULL THEN
                RAISE EXCEPTION 'currency % is still named by postings or journal lines', used
                    USING ERRCODE = 'foreign_key_violation', CONSTRAINT = '{fk_name(TABLES[0])}',
                          TABLE = 'currencies';
            END IF;
            RETURN NULL;
        END
        $fn$
        """
    )
    for event in ("DELETE", "UPDATE"):
        op.execute(
            f"""
            CREATE TRIGGER trg_currencies_still_referenced_{event.lower()}
            AFTER {event} ON currencies
            REFERENCING OLD TABLE AS old_codes
            FOR EACH STATEMENT EXECUTE FUNCTION currencies_still_referenced()
            """
        )


def downgrade() -> None:
    for event in ("DELETE", "UPDATE"):
        op.execute(f"DROP TRIGGER trg_currencies_still_referenced_{event.lower()} ON currencies")
    op.execute("DROP FUNCTION currencies_still_referenced()")
    for table in TABLES:
        for event in ("INSERT", "UPDATE"):
            op.execute(f"DROP TRIGGER trg_{table}_currency_{event.lower()} ON {table}")
        op.execute(f"DROP FUNCTION {table}_currency_exists()")
        op.create_foreign_key(fk_name(table), table, "currencies", ["currency"], ["code"])

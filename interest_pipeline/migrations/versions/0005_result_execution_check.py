"""account results: the execution reference checked once per statement, not once per row

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21

An accrual or posting chunk inserts ~50,000 account results in one statement, all of one
execution. The foreign key to interest_batch_execution checked (and share-locked) that single
row once per result: 138 ms of a 1.5 s chunk (EXPLAIN ANALYZE at 1M accounts, docs/benchmarks.md),
and with two chunks at once the shared row lock becomes a MultiXact both keep re-reading.

The same guarantee, set-based:
- after each INSERT or UPDATE of results, one statement-level trigger locks
  every distinct execution the new rows name FOR KEY SHARE, as the foreign key's check did,
  and fails with foreign_key_violation under the old constraint's name if one is missing;
- deleting executions deletes their results (the old ON DELETE CASCADE); because the insert
  check holds the key-share lock until commit, a delete waits for an inserting chunk to commit
  and then removes its results too, and an insert waiting on a deleting transaction finds the
  execution gone and fails;
- an execution's id never changes (the old ON UPDATE NO ACTION, for the only key used).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FK_NAME = "fk_interest_batch_account_result_execution_id_interest_batch_execution"
# What PostgreSQL reports as the violated constraint, as the foreign key did (63-byte names).
CONSTRAINT_NAME = "fk_interest_batch_account_result_execution_id"


def upgrade() -> None:
    op.drop_constraint(op.f(FK_NAME), "interest_batch_account_result", type_="foreignkey")
    op.execute(
        f"""
        CREATE FUNCTION interest_batch_account_result_execution_exists() RETURNS trigger
        LANGUAGE plpgsql AS $fn$
        DECLARE
            named bigint;
            locked bigint;
            missing text;
        BEGIN
            SELECT count(DISTINCT execution_id) INTO named FROM new_results;
            SELECT count(*) INTO locked FROM (
                SELECT 1 FROM interest_batch_execution e
                 WHERE e.id IN (SELECT execution_id FROM new_results)
                   FOR KEY SHARE OF e) l;
            IF locked < named THEN
                SELECT n.execution_id INTO missing FROM new_results n
                 WHERE NOT EXISTS (SELECT 1 FROM interest_batch_execution e WHERE e.id = n.execution_id)
                 LIMIT 1;
                RAISE EXCEPTION 'account result refers to execution %, which does not exist', missing
                    USING ERRCODE = 'foreign_key_violation', CONSTRAINT = '{CONSTRAINT_NAME}',
                          TABLE = 'interest_batch_account_result';
            END IF;
            RETURN NULL;
        END
        $fn$
        """
    )
    # (transition tables rule out UPDATE OF execution_id; results are a log, rarely updated)
    for event in ("INSERT", "UPDATE"):
        suffix = event.split()[0].lower()
        op.execute(
            f"""
            CREATE TRIGGER trg_interest_batch_account_result_execution_{suffix}
            AFTER {event} ON interest_batch_account_result
            REFERENCING NEW TABLE AS new_results
            FOR EACH STATEMENT EXECUTE FUNCTION interest_batch_account_result_execution_exists()
            """
        )
    op.execute(
        """
        CREATE FUNCTION interest_batch_execution_delete_results() RETURNS trigger
        LANGUAGE plpgsql AS $fn$
        BEGIN
            DELETE FROM interest_batch_account_result r USING old_executions o
             WHERE r.execution_id = o.id;
            RETURN NULL;
        END
        $fn$
        """
    )
    op.execute(
        """
        CREATE TRIGGER trg_interest_batch_execution_delete_results
        AFTER DELETE ON interest_batch_execution
        REFERENCING OLD TABLE AS old_executions
        FOR EACH STATEMENT EXECUTE FUNCTION interest_batch_execution_delete_results()
        """
    )
    op.execute(
        """
        CREATE FUNCTION interest_batch_execution_id_fixed() RETURNS trigger
        LANGUAGE plpgsql AS $fn$
        BEGIN
            IF NEW.id <> OLD.id THEN
                RAISE EXCEPTION 'an execution''s id is its Dagster run id and never changes (% -> %)',
                    OLD.id, NEW.id USING ERRCODE = 'restrict_violation';
            END IF;
            RETURN NEW;
        END
        $fn$
        """
    )
    op.execute(
        """
        CREATE TRIGGER trg_interest_batch_execution_id_fixed
        BEFORE UPDATE OF id ON interest_batch_execution
        FOR EACH ROW EXECUTE FUNCTION interest_batch_execution_id_fixed()
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER trg_interest_batch_execution_id_fixed ON interest_batch_execution")
    op.execute("DROP TRIGGER trg_interest_batch_execution_delete_results ON interest_batch_execution")
    op.execute(
        "DROP TRIGGER trg_interest_batch_account_result_execution_update ON interest_batch_account_result"
    )
    op.execute(
        "DROP TRIGGER trg_interest_batch_account_result_execution_insert ON interest_batch_account_result"
    )
    op.execute("DROP FUNCTION interest_batch_execution_id_fixed()")
    op.execute("DROP FUNCTION interest_batch_execution_delete_results()")
    op.execute("DROP FUNCTION interest_batch_account_result_execution_exists()")
    op.create_foreign_key(
        op.f(FK_NAME),
        "interest_batch_account_result",
        "interest_batch_execution",
        ["execution_id"],
        ["id"],
        ondelete="CASCADE",
    )

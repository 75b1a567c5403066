"""Planner settings for a few statements of a transaction, not for the rest of it."""

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.pq import TransactionStatus


@contextmanager
def local_settings(conn: psycopg.Connection, **values: str) -> Iterator[None]:
    """`values` (setting name -> value) for the statements of the block, inside the caller's
    transaction, then each setting back as it was.

    SET LOCAL alone would last to the transaction's end, past a released savepoint too: a read
    tuned so (no sequential scans, no nested loops) would change the plans of whatever the caller
    runs after it in the same transaction. A block that fails leaves the transaction aborted; its
    rollback undoes the settings, so they are not restored by hand then.
    """
    names = list(values)
    before = conn.execute("SELECT " + ", ".join("current_setting(%s)" for _ in names), names).fetchone()
    assert before is not None
    for name, value in values.items():
        conn.execute("SELECT set_config(%s, %s, true)", (name, value))
    try:
        yield
    finally:
        if conn.info.transaction_status != TransactionStatus.INERROR:
            for name, value in zip(names, before, strict=True):
                conn.execute("SELECT set_config(%s, %s, true)", (name, value))

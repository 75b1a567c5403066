"""Planner statistics: for tables the book's writers (generate, load) have just filled, and for the
tables a batch run reads, refreshed when they have drifted (autovacuum may be late, or off)."""

from collections.abc import Sequence

import psycopg
from psycopg import sql

# What a run's statements read and write: the book, the outputs and the execution log. Their plans
# (a due account's index probes, the chunk plan's ranges) are only as good as these statistics.
BATCH_TABLES = (
    "accounts",
    "account_balances",
    "interest_rate_tiers",
    "interest_accrual_entries",
    "interest_accrual_backdated",
    "interest_postings",
    "ledger_entries",
    "interest_batch_execution",
    "interest_batch_account_result",
    "interest_batch_account_status",
)

# autovacuum's own defaults (autovacuum_analyze_threshold, autovacuum_analyze_scale_factor): a run
# analyzes what autovacuum would already have analyzed, no more often.
ANALYZE_THRESHOLD = 50
ANALYZE_SCALE_PERCENT = 10  # autovacuum_analyze_scale_factor 0.1, in whole percent

# Tables modified past autovacuum's trigger since their last ANALYZE (by hand or by autovacuum), or
# never analyzed at all. reltuples is -1 until a table is first analyzed or vacuumed.
#
# A partitioned table (the accruals, migration 0015) is checked partition by partition: the current
# month's is the one that drifts, and ANALYZE of the parent would sample every month ever kept and
# re-analyze each of them, a cost that grows with history. Its partitions' own statistics are what
# the planner uses for a statement that prunes to them.
STALE_SQL = """
SELECT s.relname
  FROM pg_stat_user_tables s
  JOIN pg_class c ON c.oid = s.relid
  LEFT JOIN pg_inherits i ON i.inhrelid = s.relid
  LEFT JOIN pg_class parent ON parent.oid = i.inhparent
 WHERE s.schemaname = current_schema()
   AND (s.relname = ANY (%(tables)s) OR parent.relname = ANY (%(tables)s))
   AND c.relkind = 'r'
   AND s.n_mod_since_analyze > 0
   AND ((s.last_analyze IS NULL AND s.last_autoanalyze IS NULL)
        OR s.n_mod_since_analyze > %(threshold)s + %(percent)s * greatest(c.reltuples, 0) / 100)
 ORDER BY s.relname
"""


def analyze(conn: psycopg.Connection, tables: Sequence[str]) -> None:
    """ANALYZE the tables, after their rows are committed.

    Until autovacuum comes by (a minute, or much later on a busy server) the planner plans the
    first run over a new book blind, expecting a handful of rows: nested loops where hash joins
    belong.
    """
    with conn.transaction():
        conn.execute(analyze_statement(tables))


def analyze_statement(tables: Sequence[str], *, skip_locked: bool = False) -> sql.Composed:
    options = sql.SQL("(SKIP_LOCKED) " if skip_locked else "")
    return sql.SQL("ANALYZE {}{}").format(options, sql.SQL(", ").join(sql.Identifier(t) for t in tables))


def stale_tables(conn: psycopg.Connection, tables: Sequence[str] = BATCH_TABLES) -> list[str]:
    """Those of `tables` whose statistics autovacuum would refresh now."""
    rows = conn.execute(
        STALE_SQL, {"tables": list(tables), "threshold": ANALYZE_THRESHOLD, "percent": ANALYZE_SCALE_PERCENT}
    ).fetchall()
    return [str(name) for (name,) in rows]


def refresh_stale_statistics(conn: psycopg.Connection, tables: Sequence[str] = BATCH_TABLES) -> list[str]:
    """ANALYZE, inside the caller's transaction, those of `tables` that have drifted and are not
    locked by another session at that moment; returns the drifted ones.

    A run does not trust autovacuum to have come by: on a server where it is off or behind, a
    history table that grew by months since its last ANALYZE has the planner guess every due
    account's index probe (20,000 accounts x 24 months never analyzed: the month-end candidates
    statement read its pending rows through the heap, 3.5 s against 1.8 s index-only once
    analyzed; docs/benchmarks.md). Where autovacuum keeps up this finds nothing to do. ANALYZE
    samples a fixed number of rows (~30,000), so its cost does not grow with the table. A table
    the run's role does not own is skipped by PostgreSQL with a warning, not an error.
    """
    stale = stale_tables(conn, tables)
    if stale:
        # SKIP_LOCKED: never wait. A table locked by someone else (a posting chunk's SHARE lock on
        # the accruals, an operator's maintenance) is left for the next run; waiting would hold
        # this run's planning, and with it every chunk, behind that lock.
        conn.execute(analyze_statement(stale, skip_locked=True))
    return stale

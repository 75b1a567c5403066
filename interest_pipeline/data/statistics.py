"""Planner statistics for tables the book's writers (generate, load) have just filled."""

from collections.abc import Sequence

import psycopg
from psycopg import sql


def analyze(conn: psycopg.Connection, tables: Sequence[str]) -> None:
    """ANALYZE the tables, after their rows are committed.

    Until autovacuum comes by (a minute, or much later on a busy server) the planner plans the
    first run over a new book blind, expecting a handful of rows: nested loops where hash joins
    belong.
    """
    with conn.transaction():
        conn.execute(sql.SQL("ANALYZE {}").format(sql.SQL(", ").join(sql.Identifier(t) for t in tables)))

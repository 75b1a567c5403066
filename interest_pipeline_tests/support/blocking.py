"""Faults on real PostgreSQL: hold a table locked so a chunk waits, find and end its backend."""

import time

import psycopg


class TableLock:
    """An ACCESS EXCLUSIVE lock on a table, held by its own connection until release()."""

    def __init__(self, conninfo: str, table: str, rows_where: str | None = None) -> None:
        """`rows_where`: lock only those rows (FOR UPDATE), so readers of the table pass."""
        self.conninfo = conninfo
        self.table = table
        self.rows_where = rows_where
        self.conn: psycopg.Connection | None = None

    def hold(self) -> "TableLock":
        self.conn = psycopg.connect(self.conninfo)
        if self.rows_where:
            self.conn.execute(f"SELECT 1 FROM {self.table} WHERE {self.rows_where} FOR UPDATE")
        else:
            self.conn.execute(f"LOCK TABLE {self.table} IN ACCESS EXCLUSIVE MODE")
        return self

    def release(self) -> None:
        if self.conn is not None:
            self.conn.rollback()
            self.conn.close()
            self.conn = None

    def waiting_backend(self, timeout: float = 60.0) -> int:
        """The pid of the backend waiting for this lock (the chunk's statement), once there is one."""
        assert self.conn is not None, "hold() first"
        mine = self.conn.info.backend_pid
        deadline = time.monotonic() + timeout
        with psycopg.connect(self.conninfo, autocommit=True) as watcher:
            while time.monotonic() < deadline:
                row = watcher.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND pid <> %s AND pid <> pg_backend_pid()"
                    " AND %s = ANY(pg_blocking_pids(pid)) ORDER BY backend_start LIMIT 1",
                    (mine, mine),
                ).fetchone()
                if row:
                    return int(row[0])
                time.sleep(0.05)
        raise AssertionError(f"no backend waited for the lock on {self.table} within {timeout} s")

    def terminate(self, pid: int) -> None:
        with psycopg.connect(self.conninfo, autocommit=True) as admin:
            assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)

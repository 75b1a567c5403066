"""Server administration the project needs: whether a database exists, and creating one.

The only SQL outside the data-access modules' tables, on the server's `postgres` database.
"""

from contextlib import suppress

import psycopg
from psycopg import errors, sql
from sqlalchemy.engine import URL

from interest_pipeline.settings import libpq_url, sqlalchemy_url


def _admin(url: str | URL) -> tuple[str, str]:
    target = sqlalchemy_url(url)
    assert target.database, f"no database named in {target!r}"
    return libpq_url(target.set(database="postgres")), target.database


def database_exists(url: str | URL) -> bool:
    """Whether the database of `url` exists on its server; creates nothing (not even `_dagster`)."""
    admin, name = _admin(url)
    with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def ensure_database(url: str | URL) -> None:
    """Create the database of `url` on its server when it does not exist yet.

    Two processes may both find it missing (workers starting at once, deriving the Dagster
    database): the one that loses the race finds it created, which is all it wanted.
    """
    admin, name = _admin(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return
        # created meanwhile by another process: what this one wanted
        with suppress(errors.DuplicateDatabase, errors.UniqueViolation):
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

"""What both benchmark scripts set up: their databases, and a PostgreSQL-backed Dagster instance."""

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import psycopg
from psycopg import sql
from sqlalchemy.engine import URL

from interest_pipeline.settings import libpq_url, sqlalchemy_url, with_database


@contextmanager
def database(server: URL, name: str, template: str | None = None) -> Iterator[URL]:
    """A new database `name` on `server` (a copy of `template` when given), dropped afterwards."""
    admin = libpq_url(server.set(database="postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if template:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
            )
        else:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_database(server, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def postgres_instance(dagster_url: URL) -> Iterator[dg.DagsterInstance]:
    """A Dagster instance whose run and event storage is `dagster_url`, as in production.

    Its home is a temporary folder named by DAGSTER_HOME, so step processes load the same one.
    """
    with tempfile.TemporaryDirectory() as home:
        Path(home, "dagster.yaml").write_text(
            "storage:\n  postgres:\n    postgres_url:\n      env: BENCH_DAGSTER_PG_URL\n"
            "telemetry:\n  enabled: false\n"
        )
        os.environ["DAGSTER_HOME"] = home
        os.environ["BENCH_DAGSTER_PG_URL"] = sqlalchemy_url(dagster_url, "psycopg2").render_as_string(
            hide_password=False
        )
        with dg.DagsterInstance.get() as instance:
            yield instance

"""Fresh, migrated PostgreSQL databases for tests: real server, real migrations."""

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL

from interest_pipeline.data.generate import ledger_truncate_allowed
from interest_pipeline.db import migrate
from interest_pipeline.settings import (
    TEST_DATABASE_URL_ENV,
    embedded_server_url,
    libpq_url,
    sqlalchemy_url,
    with_database,
)

# Tables a test may fill; currencies and interest_batch_config keep their seeded rows.
DATA_TABLES = (
    "ledger_entries",
    "interest_accrual_entries",
    "interest_accrual_backdated",
    "interest_postings",
    "interest_batch_account_result",
    "interest_batch_account_status",
    "interest_batch_execution",
    "account_balances",
    "accounts",
    "interest_rate_tiers",
    "interest_products",
)


def test_server_url() -> URL:
    """INTEREST_TEST_DATABASE_URL's server when set (CI: the machine's PostgreSQL), else the embedded one."""
    configured = os.environ.get(TEST_DATABASE_URL_ENV)
    return sqlalchemy_url(configured) if configured else embedded_server_url()


@contextmanager
def fresh_database(migrated: bool = True, prefix: str = "ip_test") -> Iterator[URL]:
    server = test_server_url()
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = libpq_url(server.set(database=server.database or "postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = with_database(server, name)
    try:
        if migrated:
            migrate.upgrade(url)
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            # and the Dagster storage the CLI makes beside it (settings.dagster_database_url)
            for database in (name, f"{name}_dagster"):
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
                )


def reset_data(url: URL, seeded_config: list[tuple[object, ...]]) -> None:
    """Empty every data table and put the job configuration back to its seeded defaults.

    The servers some tests start (a dagster-daemon ticking its sensors, the API, a run still
    closing) read these tables meanwhile. TRUNCATE takes its exclusive locks one table after
    another, so a reader holding one table and asking for the next can deadlock with it; PostgreSQL
    then aborts one side (seen once in a full run on the embedded server). When it aborts this one,
    the reset is tried again: it is all one transaction, so nothing was half done.
    """
    for attempt in range(1, RESET_ATTEMPTS + 1):
        try:
            _reset_data(url, seeded_config)
            return
        except psycopg.errors.DeadlockDetected:
            if attempt == RESET_ATTEMPTS:
                raise
            time.sleep(0.2 * attempt)


RESET_ATTEMPTS = 5


def _reset_data(url: URL, seeded_config: list[tuple[object, ...]]) -> None:
    with psycopg.connect(libpq_url(url), autocommit=True) as conn, ledger_truncate_allowed(conn):
        conn.execute(
            sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
                sql.SQL(", ").join(sql.Identifier(t) for t in DATA_TABLES)
            )
        )
        conn.execute("DELETE FROM interest_batch_config")
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO interest_batch_config (id, job_type, batch_size, parallel_threads, max_retries,"
                " retry_interval_seconds, timeout_seconds, account_types, custom_parameters, cron_expression,"
                " enabled, description) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                seeded_config,
            )


def seeded_config(url: URL) -> list[tuple[object, ...]]:
    with psycopg.connect(libpq_url(url)) as conn:
        rows = conn.execute(
            "SELECT id, job_type, batch_size, parallel_threads, max_retries, retry_interval_seconds,"
            " timeout_seconds, account_types, custom_parameters, cron_expression, enabled, description"
            " FROM interest_batch_config ORDER BY id"
        ).fetchall()
    from psycopg.types.json import Jsonb

    return [(*row[:8], Jsonb(row[8]), *row[9:]) for row in rows]

"""Fixtures of the reliability tests: a small book, an instance, and a way to hold a chunk mid-flight."""

from collections.abc import Iterator
from decimal import Decimal

import dagster as dg
import psycopg
import pytest
from sqlalchemy.engine import URL

from interest_pipeline.settings import libpq_url
from interest_pipeline_tests.accrual.book import Book
from interest_pipeline_tests.support.blocking import TableLock

D = "2025-03-10"
# 1000 at 3.65 % ACT/365F is 0.10 a day, exactly.
EXPECTED = {1: Decimal("0.1000000000"), 2: Decimal("0.1000000000"), 3: Decimal("0.1000000000")}


@pytest.fixture
def book(conn: psycopg.Connection) -> Book:
    book = Book(conn)
    book.product("P", tiers=[("2020-01-01", "0", "3.65")])
    for account_id in (1, 2, 3):
        book.account(account_id, "P", {"2024-01-01": "1000"})
    return book


@pytest.fixture(scope="session")
def instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.ephemeral()


@pytest.fixture
def accruals_lock(clean_db: URL) -> Iterator[TableLock]:
    """Holds interest_accruals locked, so an accrual chunk's statement waits mid-chunk."""
    lock = TableLock(libpq_url(clean_db), "interest_accrual_entries")
    try:
        yield lock
    finally:
        lock.release()


def set_config(conn: psycopg.Connection, job_type: str, **values: object) -> None:
    assignments = ", ".join(f"{column} = %({column})s" for column in values)
    conn.execute(
        f"UPDATE interest_batch_config SET {assignments} WHERE job_type = %(job_type)s",
        {**values, "job_type": job_type},
    )

"""A generated month: the generator's book, accrued and posted every date of January 2025 by the
jobs' own statements (in this process, without Dagster's per-run overhead), built once per module."""

from datetime import date

import psycopg
import pytest

from interest_pipeline.data.generate import generate_book
from interest_pipeline.resources.database import DatabaseResource
from interest_pipeline_tests.posting.support import accrue_with_the_job, days, post_day

MONTH_START = date(2025, 1, 1)
MONTH_END = date(2025, 1, 31)
ACCOUNTS = 240
SEED = 13


def make_generated_month(conn: psycopg.Connection) -> None:
    generate_book(conn, accounts=ACCOUNTS, start=date(2024, 12, 1), days=62, seed=SEED)
    database = DatabaseResource()
    for d in days(MONTH_START, MONTH_END):
        accrue_with_the_job(database, d, f"accrual-{d}", batch_size=100)
        post_day(conn, d, batch_size=100)


@pytest.fixture
def generated_month(conn: psycopg.Connection) -> psycopg.Connection:
    make_generated_month(conn)
    return conn

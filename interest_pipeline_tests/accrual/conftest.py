"""Fixtures of the accrual job's tests: a book in the emptied test database and a Dagster instance."""

import dagster as dg
import psycopg
import pytest

from interest_pipeline_tests.accrual.book import Book


@pytest.fixture
def book(conn: psycopg.Connection) -> Book:
    return Book(conn)


@pytest.fixture(scope="session")
def instance() -> dg.DagsterInstance:
    """In-memory run and event storage: real runs, without sqlite's cost per event."""
    return dg.DagsterInstance.ephemeral()

"""Raw psycopg connections to the application database (COPY and set-based SQL)."""

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy.engine import URL

from interest_pipeline.settings import database_url, libpq_url, sqlalchemy_url


@contextmanager
def raw_connection(url: str | URL | None = None, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
    """A psycopg 3 connection, for COPY and for set-based SQL that needs no ORM."""
    target = sqlalchemy_url(url) if url is not None else database_url()
    with psycopg.connect(libpq_url(target), autocommit=autocommit) as conn:
        yield conn

"""Engines and raw connections to the application database."""

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL

from interest_pipeline.settings import database_url, libpq_url, sqlalchemy_url


def make_engine(url: str | URL | None = None, **kwargs: object) -> Engine:
    target = sqlalchemy_url(url) if url is not None else database_url()
    return create_engine(target, pool_pre_ping=True, **kwargs)  # type: ignore[arg-type]


@contextmanager
def raw_connection(url: str | URL | None = None, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
    """A psycopg 3 connection, for COPY and for set-based SQL that needs no ORM."""
    target = sqlalchemy_url(url) if url is not None else database_url()
    with psycopg.connect(libpq_url(target), autocommit=autocommit) as conn:
        yield conn

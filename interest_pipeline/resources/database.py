"""The application database as a Dagster resource: psycopg 3 connections, one per unit of work."""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import psycopg

from interest_pipeline.settings import database_url, libpq_url


class DatabaseResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Connections to the application database.

    `url` is optional: unset, INTEREST_DATABASE_URL (or the embedded server) is resolved when a
    connection is first asked for, never at import, because the webserver imports the
    definitions without needing a database.
    """

    url: str | None = None

    def conninfo(self) -> str:
        return libpq_url(self.url) if self.url else libpq_url(database_url())

    @contextmanager
    def connect(self, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
        """A connection whose transaction commits when the block ends cleanly, else rolls back."""
        with psycopg.connect(self.conninfo(), autocommit=autocommit) as conn:
            yield conn

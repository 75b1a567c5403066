"""The general ledger as a Dagster resource: an interface, and the default that writes `ledger_entries`.

The posting job hands the ledger the postings one chunk transaction has just inserted
(`posting.journals.PostedChunk`); the ledger writes their journals on the same connection,
inside that transaction. The journals' SQL lives beside the posting's, in `posting/journals.py`.
"""

import dagster as dg
import psycopg

from interest_pipeline.posting.journals import PostedChunk, insert_journal_lines


class LedgerResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Where posting journals go. `post_journals` runs inside the caller's open transaction."""

    def post_journals(self, conn: psycopg.Connection, chunk: PostedChunk) -> int:
        """Write one balanced journal per posting with gross > 0; return the number of lines written."""
        raise NotImplementedError


class PostgresLedgerResource(LedgerResource):
    """The default ledger: `ledger_entries` in the application database, same transaction as the postings."""

    def post_journals(self, conn: psycopg.Connection, chunk: PostedChunk) -> int:
        return insert_journal_lines(conn, chunk)

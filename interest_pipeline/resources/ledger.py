"""The general ledger as a Dagster resource: an interface, and the default that writes `ledger_entries`.

The posting job hands the ledger the postings one chunk transaction has just inserted; the ledger
writes their journals on the same connection, inside that transaction, so postings, journals and
capitalized accruals commit together or not at all. Every journal's key is the posting's
idempotency key, which makes a journal as unique as its posting.
"""

from dataclasses import dataclass
from datetime import date

import dagster as dg
import psycopg
from psycopg import sql

from interest_pipeline.domain.posting import GL_CUSTOMER_DEPOSITS, GL_INTEREST_EXPENSE, GL_WITHHOLDING_TAX


@dataclass(frozen=True)
class PostedChunk:
    """The postings a chunk transaction has just inserted, kept in a temporary table of that transaction.

    The table has the columns posting_id, account_id, idempotency_key, currency, gross, tax, net;
    it holds only the rows that INSERT ... ON CONFLICT DO NOTHING actually returned.
    """

    table: str
    value_date: date
    execution_id: str


class LedgerResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Where posting journals go. `post_journals` runs inside the caller's open transaction."""

    def post_journals(self, conn: psycopg.Connection, chunk: PostedChunk) -> int:
        """Write one balanced journal per posting with gross > 0; return the number of lines written."""
        raise NotImplementedError


# Line 2 is left out when net is 0 (a tax that rounds up to the whole gross): a zero line would
# break the ledger's one-side rule, and the journal still balances without it.
JOURNAL_LINES_SQL = """
INSERT INTO ledger_entries (journal_key, line_no, gl_account, account_id, debit, credit, currency, value_date)
SELECT p.idempotency_key, l.line_no, l.gl_account,
       CASE WHEN l.line_no = 2 THEN p.account_id END,
       CASE WHEN l.line_no = 1 THEN p.gross ELSE 0 END,
       CASE l.line_no WHEN 2 THEN p.net WHEN 3 THEN p.tax ELSE 0 END,
       p.currency, {value_date}
  FROM {posted} p
 CROSS JOIN (VALUES (1, {expense}), (2, {deposits}), (3, {tax_payable})) AS l (line_no, gl_account)
 WHERE p.gross > 0
   AND CASE l.line_no WHEN 2 THEN p.net > 0 WHEN 3 THEN p.tax > 0 ELSE true END
 ORDER BY p.account_id, l.line_no
"""


def insert_journal_lines(conn: psycopg.Connection, chunk: PostedChunk) -> int:
    """One INSERT ... SELECT for the whole chunk: the balance trigger checks every journal in it."""
    statement = sql.SQL(JOURNAL_LINES_SQL).format(
        posted=sql.Identifier(chunk.table),
        value_date=sql.Literal(chunk.value_date),
        expense=sql.Literal(GL_INTEREST_EXPENSE),
        deposits=sql.Literal(GL_CUSTOMER_DEPOSITS),
        tax_payable=sql.Literal(GL_WITHHOLDING_TAX),
    )
    return conn.execute(statement).rowcount


class PostgresLedgerResource(LedgerResource):
    """The default ledger: `ledger_entries` in the application database, same transaction as the postings."""

    def post_journals(self, conn: psycopg.Connection, chunk: PostedChunk) -> int:
        return insert_journal_lines(conn, chunk)

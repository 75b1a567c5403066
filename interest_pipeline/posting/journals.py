"""The ledger's side of a posting chunk: the postings it just made, and their journals' SQL.

The posting statements keep the postings a chunk transaction has just inserted in a temporary
table of that transaction; a ledger sees them only through `PostedChunk`: typed rows for a
ledger that sends journals elsewhere, or the one set-based statement below for the default
ledger, which writes `ledger_entries` in the same transaction (postings, journals and the
capitalized accruals commit together or not at all). Every journal's key is its posting's
idempotency key, which makes a journal as unique as its posting.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import NamedTuple

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from interest_pipeline.domain.posting import GL_CUSTOMER_DEPOSITS, GL_INTEREST_EXPENSE, GL_WITHHOLDING_TAX


class PostedPosting(NamedTuple):
    """One posting the chunk has just inserted (only those its INSERT ... ON CONFLICT returned)."""

    posting_id: int
    account_id: int
    idempotency_key: str
    currency: str
    gross: Decimal
    tax: Decimal
    net: Decimal


@dataclass(frozen=True)
class PostedChunk:
    """What a ledger is handed: the chunk's new postings of one value date, inside its transaction."""

    value_date: date
    execution_id: str
    # The posting statements' temporary table: theirs and this module's business, no ledger's.
    _relation: str

    def postings(self, conn: psycopg.Connection) -> list[PostedPosting]:
        """The new postings, by account id."""
        with conn.cursor(row_factory=class_row(PostedPosting)) as cur:
            return cur.execute(
                sql.SQL(
                    "SELECT posting_id, account_id, idempotency_key, currency::text AS currency,"
                    " gross, tax, net FROM {} ORDER BY account_id"
                ).format(sql.Identifier(self._relation))
            ).fetchall()


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
    """One INSERT ... SELECT for the whole chunk (the balance trigger checks every journal in it);
    the number of lines written."""
    statement = sql.SQL(JOURNAL_LINES_SQL).format(
        posted=sql.Identifier(chunk._relation),
        value_date=sql.Literal(chunk.value_date),
        expense=sql.Literal(GL_INTEREST_EXPENSE),
        deposits=sql.Literal(GL_CUSTOMER_DEPOSITS),
        tax_payable=sql.Literal(GL_WITHHOLDING_TAX),
    )
    return conn.execute(statement).rowcount

"""Ledger fakes behind the LedgerResource interface.

Dagster may rebuild a resource from its config, so a fake keeps no state on itself: what it
records goes into a module-level registry under the fake's `recorder` name.
"""

from collections import defaultdict
from datetime import date
from decimal import Decimal

import psycopg

from interest_pipeline.domain.posting import JournalLine, journal_lines
from interest_pipeline.posting.journals import PostedChunk, insert_journal_lines
from interest_pipeline.resources.ledger import LedgerResource

RECORDED: dict[str, list[JournalLine]] = defaultdict(list)


class LedgerDown(RuntimeError):
    pass


class RecordingLedger(LedgerResource):
    """Records the journals it is handed instead of writing `ledger_entries`."""

    recorder: str

    def post_journals(self, conn: psycopg.Connection, chunk: PostedChunk) -> int:
        lines: list[JournalLine] = []
        for p in chunk.postings(conn):
            lines.extend(
                _journal(p.idempotency_key, p.account_id, p.currency, chunk.value_date, p.gross, p.tax, p.net)
            )
        RECORDED[self.recorder].extend(lines)
        return len(lines)


class FailingLedger(LedgerResource):
    """Writes the real journals, but fails for any chunk holding a posting of `fail_for_account_id`."""

    fail_for_account_id: int

    def post_journals(self, conn: psycopg.Connection, chunk: PostedChunk) -> int:
        if any(p.account_id == self.fail_for_account_id for p in chunk.postings(conn)):
            raise LedgerDown(f"ledger unavailable while posting account {self.fail_for_account_id}")
        return insert_journal_lines(conn, chunk)


def _journal(
    key: str, account_id: int, currency: str, value_date: date, gross: Decimal, tax: Decimal, net: Decimal
) -> tuple[JournalLine, ...]:
    return journal_lines(
        key=key,
        account_id=account_id,
        currency=currency,
        value_date=value_date,
        gross=gross,
        tax=tax,
        net=net,
    )

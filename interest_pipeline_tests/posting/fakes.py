"""Ledger fakes behind the LedgerResource interface.

Dagster may rebuild a resource from its config, so a fake keeps no state on itself: what it
records goes into a module-level registry under the fake's `recorder` name.
"""

from collections import defaultdict
from datetime import date
from decimal import Decimal

import psycopg
from psycopg import sql

from interest_pipeline.domain.posting import JournalLine, journal_lines
from interest_pipeline.resources.ledger import LedgerResource, PostedChunk, insert_journal_lines

RECORDED: dict[str, list[JournalLine]] = defaultdict(list)


class LedgerDown(RuntimeError):
    pass


class RecordingLedger(LedgerResource):
    """Records the journals it is handed instead of writing `ledger_entries`."""

    recorder: str

    def post_journals(self, conn: psycopg.Connection, chunk: PostedChunk) -> int:
        rows = conn.execute(
            sql.SQL(
                "SELECT idempotency_key, account_id, currency, gross, tax, net FROM {} ORDER BY account_id"
            ).format(sql.Identifier(chunk.table))
        ).fetchall()
        lines: list[JournalLine] = []
        for key, account_id, currency, gross, tax, net in rows:
            lines.extend(_journal(key, account_id, currency.strip(), chunk.value_date, gross, tax, net))
        RECORDED[self.recorder].extend(lines)
        return len(lines)


class FailingLedger(LedgerResource):
    """Writes the real journals, but fails for any chunk holding a posting of `fail_for_account_id`."""

    fail_for_account_id: int

    def post_journals(self, conn: psycopg.Connection, chunk: PostedChunk) -> int:
        hit = conn.execute(
            sql.SQL("SELECT 1 FROM {} WHERE account_id = %s").format(sql.Identifier(chunk.table)),
            (self.fail_for_account_id,),
        ).fetchone()
        if hit:
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

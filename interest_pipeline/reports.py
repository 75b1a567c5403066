"""Read-only summaries of the book and what the pipeline did to it, for people at a terminal."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import psycopg
from tabulate import tabulate

from interest_pipeline.posting.sql import WaitingPosting


@dataclass(frozen=True)
class Table:
    title: str
    headers: tuple[str, ...]
    rows: list[tuple[object, ...]]

    def render(self) -> str:
        body = tabulate(self.rows, headers=self.headers, tablefmt="github", disable_numparse=True)
        return f"{self.title}\n{body if self.rows else '(none)'}"


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:f}"  # plain notation: str() shows a zero carry as 0E-10
    return str(value)


def _text(rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    # Amounts stay exact strings: tabulate would otherwise format Decimals through float.
    return [tuple(_cell(v) for v in row) for row in rows]


def summary(conn: psycopg.Connection, start: date | None = None, end: date | None = None) -> list[Table]:
    """Accounts, accruals, postings (gross/tax/net per currency), executions; optionally for a date range."""
    lo = start or date.min
    hi = end or date.max
    accounts = conn.execute(
        """
        SELECT a.currency, count(*), count(*) FILTER (WHERE a.status = 'ACTIVE'),
               count(*) FILTER (WHERE a.status = 'DORMANT'), count(*) FILTER (WHERE a.status = 'CLOSED')
          FROM accounts a GROUP BY a.currency ORDER BY a.currency
        """
    ).fetchall()
    accruals = conn.execute(
        """
        SELECT a.currency, count(*), count(DISTINCT i.account_id), sum(i.amount),
               count(*) FILTER (WHERE i.status = 'CAPITALIZED'), count(*) FILTER (WHERE i.status = 'ACCRUED')
          FROM interest_accruals i JOIN accounts a ON a.id = i.account_id
         WHERE i.accrual_date BETWEEN %s AND %s
         GROUP BY a.currency ORDER BY a.currency
        """,
        (lo, hi),
    ).fetchall()
    postings = conn.execute(
        """
        SELECT currency, count(*), count(*) FILTER (WHERE is_final), sum(gross), sum(tax), sum(net),
               sum(written_off)
          FROM interest_postings WHERE posting_date BETWEEN %s AND %s
         GROUP BY currency ORDER BY currency
        """,
        (lo, hi),
    ).fetchall()
    ledger = conn.execute(
        """
        SELECT currency, count(DISTINCT journal_key), count(*), sum(debit), sum(credit)
          FROM ledger_entries WHERE value_date BETWEEN %s AND %s
         GROUP BY currency ORDER BY currency
        """,
        (lo, hi),
    ).fetchall()
    executions = conn.execute(
        """
        SELECT job_type, status, count(*), min(business_date), max(business_date), sum(accounts_succeeded),
               sum(accounts_skipped), sum(accounts_failed)
          FROM interest_batch_execution WHERE business_date BETWEEN %s AND %s
         GROUP BY job_type, status ORDER BY job_type, status
        """,
        (lo, hi),
    ).fetchall()
    return [
        Table("Accounts", ("currency", "accounts", "active", "dormant", "closed"), _text(accounts)),
        Table(
            "Accruals",
            ("currency", "rows", "accounts", "accrued", "capitalized rows", "open rows"),
            _text(accruals),
        ),
        Table(
            "Postings",
            ("currency", "postings", "final", "gross", "tax", "net", "written off"),
            _text(postings),
        ),
        Table("Ledger", ("currency", "journals", "lines", "debit", "credit"), _text(ledger)),
        Table(
            "Executions",
            ("job", "status", "runs", "first date", "last date", "succeeded", "skipped", "failed"),
            _text(executions),
        ),
    ]


def waiting_postings_table(waiting: list[WaitingPosting], next_run_date: date) -> Table:
    """The postings owed from earlier due dates, and what each still needs."""
    rows: list[tuple[object, ...]] = [
        (
            w.account_id,
            w.account_number,
            w.due_date,
            w.idempotency_key,
            "final" if w.is_final else "period end",
            w.accrued,
            f"blocked: re-accrue {w.blocked_reason.split(': ', 1)[-1]}"
            if w.blocked_reason
            else f"ready: made by the posting run of {next_run_date} or any later date",
        )
        for w in waiting
    ]
    return Table(
        f"Postings waiting (as the posting run of {next_run_date} would find them)",
        ("account", "number", "due date", "key", "posting", "accrued", "state"),
        _text(rows),
    )

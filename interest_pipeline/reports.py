"""Read-only summaries of the book and what the pipeline did to it, for people at a terminal.

The summary's queries are Core statements over the models' tables (db/tables.py), read as named
rows per currency or per job and status.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple, TypeVar

import psycopg
from sqlalchemy import ColumnElement, FromClause, Label, distinct, func, select
from tabulate import tabulate

from interest_pipeline.db import core
from interest_pipeline.db.tables import ACCOUNT, ACCRUAL, EXECUTION, LEDGER, POSTING
from interest_pipeline.domain.enums import AccountStatus, AccrualStatus
from interest_pipeline.posting.sql import WaitingPosting

Row = TypeVar("Row")


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


def _text(rows: Sequence[tuple[object, ...]]) -> list[tuple[object, ...]]:
    # Amounts stay exact strings: tabulate would otherwise format Decimals through float.
    return [tuple(_cell(v) for v in row) for row in rows]


class CurrencyAccounts(NamedTuple):
    currency: str
    accounts: int
    active: int
    dormant: int
    closed: int


class CurrencyAccruals(NamedTuple):
    currency: str
    rows: int
    accounts: int
    accrued: Decimal
    capitalized_rows: int
    open_rows: int


class CurrencyPostings(NamedTuple):
    currency: str
    postings: int
    final: int
    gross: Decimal
    tax: Decimal
    net: Decimal
    written_off: Decimal


class CurrencyLedger(NamedTuple):
    currency: str
    journals: int
    lines: int
    debit: Decimal
    credit: Decimal


class JobStatusExecutions(NamedTuple):
    job_type: str
    status: str
    runs: int
    first_date: date
    last_date: date
    succeeded: int
    skipped: int
    failed: int


def _count_where(condition: ColumnElement[bool], label: str) -> Label[int]:
    return func.count().filter(condition).label(label)


def _grouped(
    conn: psycopg.Connection,
    row_type: type[Row],
    keys: list[ColumnElement[Any]],
    *figures: ColumnElement[Any],
    source: FromClause | None = None,
    where: ColumnElement[bool] | None = None,
) -> list[Row]:
    """One summary table: the figures per key, in key order."""
    query = select(*keys, *figures).group_by(*keys).order_by(*keys)
    if source is not None:
        query = query.select_from(source)
    if where is not None:
        query = query.where(where)
    return core.fetch_all(conn, query, row_type)


def summary(conn: psycopg.Connection, start: date | None = None, end: date | None = None) -> list[Table]:
    """Accounts, accruals, postings (gross/tax/net per currency), executions; optionally for a date range."""
    lo = start or date.min
    hi = end or date.max
    a, i, p, ledger_, e = ACCOUNT.c, ACCRUAL.c, POSTING.c, LEDGER.c, EXECUTION.c
    accounts = _grouped(
        conn,
        CurrencyAccounts,
        [a.currency],
        func.count().label("accounts"),
        _count_where(a.status == AccountStatus.ACTIVE, "active"),
        _count_where(a.status == AccountStatus.DORMANT, "dormant"),
        _count_where(a.status == AccountStatus.CLOSED, "closed"),
    )
    accruals = _grouped(
        conn,
        CurrencyAccruals,
        [a.currency],
        func.count().label("rows"),
        func.count(distinct(i.account_id)).label("accounts"),
        func.sum(i.amount).label("accrued"),
        _count_where(i.status == AccrualStatus.CAPITALIZED, "capitalized_rows"),
        _count_where(i.status == AccrualStatus.ACCRUED, "open_rows"),
        source=ACCRUAL.join(ACCOUNT, a.id == i.account_id),
        where=i.accrual_date.between(lo, hi),
    )
    postings = _grouped(
        conn,
        CurrencyPostings,
        [p.currency],
        func.count().label("postings"),
        _count_where(p.is_final, "final"),
        *(func.sum(p[name]).label(name) for name in ("gross", "tax", "net", "written_off")),
        where=p.posting_date.between(lo, hi),
    )
    ledger = _grouped(
        conn,
        CurrencyLedger,
        [ledger_.currency],
        func.count(distinct(ledger_.journal_key)).label("journals"),
        func.count().label("lines"),
        func.sum(ledger_.debit).label("debit"),
        func.sum(ledger_.credit).label("credit"),
        where=ledger_.value_date.between(lo, hi),
    )
    executions = _grouped(
        conn,
        JobStatusExecutions,
        [e.job_type, e.status],
        func.count().label("runs"),
        func.min(e.business_date).label("first_date"),
        func.max(e.business_date).label("last_date"),
        func.sum(e.accounts_succeeded).label("succeeded"),
        func.sum(e.accounts_skipped).label("skipped"),
        func.sum(e.accounts_failed).label("failed"),
        where=e.business_date.between(lo, hi),
    )
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

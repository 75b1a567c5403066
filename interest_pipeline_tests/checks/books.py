"""A January book accrued by the accrual job's own statement and posted by the posting job's."""

from dataclasses import dataclass
from datetime import date

import psycopg

from interest_pipeline.resources.database import DatabaseResource
from interest_pipeline_tests.posting.support import Book, accrue_with_the_job, days, post_day, product

JAN_1 = date(2025, 1, 1)
JAN_31 = date(2025, 1, 31)
ZERO_BALANCE = 99
ACCOUNTS = 24
CURRENCIES = ("USD", "JPY", "KWD")


@dataclass(frozen=True)
class PostedBook:
    accrual_execution: str  # January 31st's accrual
    posting_execution: str  # January 31st's posting


def write_book(conn: psycopg.Connection) -> Book:
    """24 accounts in three currencies at 15 % tax, and one with a zero balance (nothing to post)."""
    book = Book()
    facts = book.add_product(product("SAV", tax="15"), rate="3.25")
    for n in range(1, ACCOUNTS + 1):
        book.add_account(facts, n, currency=CURRENCIES[n % 3], balance=f"{1000 * n + 7}.1234")
    book.add_account(facts, ZERO_BALANCE, balance="0.0000")
    book.write(conn)
    return book


def accrue_january(last: date = JAN_31) -> str:
    database = DatabaseResource()
    for d in days(JAN_1, last):
        accrue_with_the_job(database, d, f"accrual-{d}", batch_size=10)
    return f"accrual-{last}"


def posted_january(conn: psycopg.Connection) -> PostedBook:
    write_book(conn)
    accrual = accrue_january()
    posting = post_day(conn, JAN_31, batch_size=10)
    return PostedBook(accrual, posting.execution.id)

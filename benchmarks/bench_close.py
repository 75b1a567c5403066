"""Benchmark of the close ops' reads on a kept 1M-account book, piece by piece (not a test).

A clone of the book `bench_posting.py --keep-book NAME` kept (January 2025 accrued by the accrual
job's statements, posted up to Jan 30) is migrated to the head revision, its month end posted by
the posting job's lifecycle in this process (`bench_support.post_date`: plan, chunks two at a time,
close) and settled. Then each read a close makes is timed alone, `--repeat` times, each in a
transaction rolled back afterwards, the server otherwise idle:

- the accrual close (Jan 30's accrual execution): its check on one connection; its run table;
  check and table together on two connections, as `close_accrual` runs them;
- the posting close (the month end's execution): both journal checks, the due accounts'
  outcomes, gross = net + tax, the capitalized accruals, the run table.

    INTEREST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python benchmarks/bench_close.py --from-book keep_1m
"""

import argparse
import os
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import psycopg
from bench_support import database, post_date, settle

from interest_pipeline.checks import sql as checks
from interest_pipeline.db import migrate
from interest_pipeline.reporting import sql as tables
from interest_pipeline.resources.database import DatabaseResource
from interest_pipeline.resources.ledger import PostgresLedgerResource
from interest_pipeline.settings import DATABASE_URL_ENV, libpq_url, sqlalchemy_url

POSTING_DATE = date(2025, 1, 31)
ACCRUAL_DATE = date(2025, 1, 30)


def timed(
    conninfo: str, what: str, read: Callable[[psycopg.Connection, psycopg.Connection], Any], repeat: int
) -> None:
    """`read` on two fresh connections (it may use one), `repeat` times: the median and the range."""
    seconds = []
    for _ in range(repeat):
        with psycopg.connect(conninfo) as conn, psycopg.connect(conninfo) as other:
            started = time.perf_counter()
            read(conn, other)
            seconds.append(time.perf_counter() - started)
            conn.rollback()
            other.rollback()
    print(
        f"| {what} | {statistics.median(seconds):.2f} s | {min(seconds):.2f}-{max(seconds):.2f} s |",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--from-book", metavar="NAME", required=True, help="the kept book to clone")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    configured = os.environ.get(DATABASE_URL_ENV)
    if not configured:
        raise SystemExit(f"set {DATABASE_URL_ENV}: the benchmark creates its database on that server")
    server = sqlalchemy_url(configured)
    with database(server, f"bench_close_{uuid.uuid4().hex[:6]}", template=args.from_book) as url:
        migrate.upgrade(url)
        settle(url)
        conninfo = libpq_url(url)
        resource = DatabaseResource(url=conninfo)
        started = time.perf_counter()
        posting = post_date(resource, PostgresLedgerResource(), POSTING_DATE)
        print(f"month end posted in-process: {time.perf_counter() - started:.1f} s")
        settle(url)
        with psycopg.connect(conninfo) as conn:
            [[accrual]] = conn.execute(
                "SELECT id FROM interest_batch_execution"
                " WHERE job_type = 'daily_interest_accrual' AND business_date = %s AND status = 'SUCCESS'",
                (ACCRUAL_DATE,),
            ).fetchall()
            dates = checks.posting_dates(conn, posting)

        def accrual_table(conn: psycopg.Connection) -> None:
            tables.accrual_run(conn, accrual)

        def posting_table(conn: psycopg.Connection) -> None:
            tables.posting_run(conn, posting)

        def in_checks_transaction(check: Callable[[psycopg.Connection], Any]) -> Callable[..., Any]:
            def read(conn: psycopg.Connection, _other: psycopg.Connection) -> Any:
                with conn.transaction():
                    checks.tuned_for_checks(conn)
                    return check(conn)

            return read

        # (label, read on the first connection and, where the close uses one, the second), in
        # the order the table prints them
        reads: list[tuple[str, Callable[[psycopg.Connection, psycopg.Connection], Any]]] = [
            ("accrual check, one connection", lambda c, _: checks.accrual_checks(c, accrual)),
            ("accrual run table", lambda c, _: accrual_table(c)),
            (
                "accrual check and table on two connections (close_accrual)",
                lambda c, o: checks.accrual_checks(c, accrual, o, meanwhile=accrual_table),
            ),
            ("journal checks (both)", in_checks_transaction(lambda c: checks.journal_checks(c, dates))),
            (
                "due accounts have an outcome",
                in_checks_transaction(lambda c: checks.due_accounts_have_outcome(c, posting)),
            ),
            ("gross = net + tax", in_checks_transaction(lambda c: checks.gross_is_net_plus_tax(c, dates))),
            (
                "capitalized accruals match",
                in_checks_transaction(lambda c: checks.capitalized_accruals_match(c, dates)),
            ),
            ("posting run table", lambda c, _: posting_table(c)),
            (
                "posting checks and table on two connections (close_posting)",
                lambda c, o: checks.posting_checks(c, posting, o, meanwhile=posting_table),
            ),
        ]
        print(f"\n| read ({args.repeat} times) | median | range |\n| --- | ---: | ---: |")
        for what, read in reads:
            timed(conninfo, what, read, args.repeat)


if __name__ == "__main__":
    main()

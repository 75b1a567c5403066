"""Benchmark of the posting job at a month end (not a test).

A fresh database on INTEREST_DATABASE_URL's server gets a generated book
(`interest_pipeline.data.generate`, default 1,000,000 accounts) and January 2025 made the way
production makes it (`--book production`, the default): every date accrued by the accrual job's
own lifecycle and chunk statement (its account results, statuses and executions, which the
posting's completeness check reads), and every date before the month end posted by the posting
job's (the maturities and closures of January get their final postings on their day). With
`--book direct` the month of ACCRUED rows is instead written by ONE `INSERT ... SELECT` (a fixed
2 % a year of each account's first snapshot) plus one finished accrual execution per date, and
nothing is posted before the month end (so the job makes January's finals late). That book is
then cloned twice (CREATE DATABASE ... TEMPLATE), each clone made, settled and checkpointed just
before its own run, so that both start from the same state:

- on the first, 2025-01-31 is posted by the real `interest_posting` job, launched with
  `dg.execute_job` on a PostgreSQL-backed Dagster instance (its default forkserver executor);
- on the second, the bare-SQL floor: one statement inserting the same postings, their ledger
  lines and capitalizing their accruals, without the job (no completeness check, no account
  results, no execution rows, no Dagster).

Both results are compared (count and sums of every posting column), then printed as a table.

Building a 1M book takes ~25 minutes. `--keep-book NAME` builds it into the database NAME and
leaves it there (nothing is posted on the month end yet); `--from-book NAME` skips the build: it
clones NAME, migrates the clone to the head revision (a book kept by older code gets today's
schema, as a production database would) and settles it, then times the job and floor as above.

    INTEREST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python benchmarks/bench_posting.py --accounts 1000000

Everything that executes runs under the __main__ guard: step processes re-import this module.
"""

import argparse
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta

import psycopg
from bench_support import (
    POSTING_JOB_TYPE,
    accrue_date,
    checkpoint,
    database,
    point_at,
    post_date,
    postgres_instance,
    run_posting_floor,
    run_posting_job,
    settle,
    timed,
)
from psycopg import sql
from sqlalchemy.engine import URL

from interest_pipeline.data.generate import generate_book
from interest_pipeline.db import migrate
from interest_pipeline.resources.database import DatabaseResource
from interest_pipeline.resources.ledger import PostgresLedgerResource
from interest_pipeline.settings import DATABASE_URL_ENV, libpq_url, sqlalchemy_url, with_database

START = date(2025, 1, 1)
DAYS = 31
POSTING_DATE = date(2025, 1, 31)

# One row per account and night of January it is open, on its first snapshot's balance.
MONTH_OF_ACCRUALS = """
INSERT INTO interest_accrual_entries (account_id, accrual_date, balance, amount, execution_id)
SELECT a.id, d::date, b.closing_balance, round_half_even(b.closing_balance * 2 / 36500, 10), 'bench'
  FROM accounts a
  JOIN LATERAL (SELECT closing_balance FROM account_balances ab WHERE ab.account_id = a.id
                 ORDER BY balance_date LIMIT 1) b ON b.closing_balance > 0
 CROSS JOIN generate_series(%(start)s::date, %(end)s::date, interval '1 day') d
 WHERE a.opened_on <= d::date
   AND (a.closed_on IS NULL OR d::date < a.closed_on)
   AND (a.maturity_date IS NULL OR d::date < a.maturity_date)
   AND a.status <> 'DORMANT'
"""

ACCRUAL_EXECUTIONS = """
INSERT INTO interest_batch_execution
    (id, job_type, business_date, trigger, status, account_types, completed_at)
SELECT 'bench-accrual-' || d::date, 'daily_interest_accrual', d::date, 'MANUAL', 'SUCCESS',
       ARRAY['SAVINGS', 'FIXED_DEPOSIT', 'RECURRING_DEPOSIT'], now()
  FROM generate_series(%(start)s::date, %(end)s::date, interval '1 day') d
"""


def accrue_and_post_the_month(url: URL) -> int:
    """January as production makes it: each date accrued by the accrual job's lifecycle, and posted
    by the posting job's, except the month end (bench_support's accrue_date, post_date)."""
    point_at(url)
    database = DatabaseResource()
    ledger = PostgresLedgerResource()
    for n in range(DAYS):
        d = START + timedelta(days=n)
        accrue_date(database, d)
        if d < POSTING_DATE:
            post_date(database, ledger, d)
    with psycopg.connect(libpq_url(url)) as conn:
        row = conn.execute("SELECT count(*) FROM interest_accrual_entries").fetchone()
    return int(row[0]) if row else 0


def prepare(url: URL, accounts: int, book: str) -> int:
    migrate.upgrade(url)
    started = time.perf_counter()
    with psycopg.connect(libpq_url(url)) as conn:
        generate_book(conn, accounts=accounts, start=START, days=DAYS, seed=1)
    timed(f"generate {accounts:,} accounts", started)
    started = time.perf_counter()
    if book == "production":
        rows = accrue_and_post_the_month(url)
        timed(f"January accrued by the accrual job's statements ({rows:,} rows), posted to Jan 30", started)
    else:
        window = {"start": START, "end": POSTING_DATE}
        with psycopg.connect(libpq_url(url)) as conn:
            rows = conn.execute(MONTH_OF_ACCRUALS, window).rowcount
            conn.execute(ACCRUAL_EXECUTIONS, window)
        timed(f"one INSERT ... SELECT of {rows:,} ACCRUED rows", started)
    settle(url)
    return rows


def reuse(url: URL) -> int:
    """A kept book, cloned into `url`: migrated to today's schema and settled like a built one."""
    started = time.perf_counter()
    migrate.upgrade(url)
    timed("kept book migrated to the head revision", started)
    settle(url)
    with psycopg.connect(libpq_url(url)) as conn:
        row = conn.execute("SELECT count(*) FROM interest_accrual_entries").fetchone()
    return int(row[0]) if row else 0


def run_job(url: URL, dagster_url: URL) -> tuple[float, tuple[object, ...]]:
    with postgres_instance(dagster_url) as instance:
        seconds, fingerprint, _ = run_posting_job(url, instance, POSTING_DATE)
    return seconds, fingerprint


@contextmanager
def clone_of_book(
    server: URL, book: str, name: str, batch_size: int | None
) -> Iterator[tuple[URL, int, int]]:
    """A clone of `book` made just before its run, migrated and settled: its URL, accrual rows, accounts."""
    with database(server, name, template=book) as url:
        rows = reuse(url)
        with psycopg.connect(libpq_url(url)) as conn:
            [[accounts]] = conn.execute("SELECT count(*) FROM accounts").fetchall()
            if batch_size is not None:
                # as an operator would tune it: the config row, read by the job and the floor alike
                conn.execute(
                    "UPDATE interest_batch_config SET batch_size = %s"
                    " WHERE job_type = %s AND name = 'default'",
                    (batch_size, POSTING_JOB_TYPE),
                )
        checkpoint(url)
        yield url, rows, accounts


def time_both(
    server: URL, book: str, tag: str, batch_size: int | None
) -> tuple[tuple[object, ...], float, tuple[object, ...], float, int, int]:
    """The job, then the floor, each on its own clone of `book` made just before it runs.

    Both clones were made first once, and the job ran right after the floor's clone: on a 13 GB
    book that clone left forced checkpoints running into the job (seen in the server's log), and
    the book and two clones (39 GB) exceed the machine's memory, so the floor ran on the copy
    written last, likelier to be cached. Cloned in turn, each run starts from the same state: just
    copied, settled, and checkpointed.
    """
    with (
        database(server, f"bench_posting_dagster_{tag}") as dagster_url,
        clone_of_book(server, book, f"bench_posting_{tag}", batch_size) as (url, rows, n),
    ):
        job_seconds, job_result = run_job(url, dagster_url)
    with clone_of_book(server, book, f"bench_posting_floor_{tag}", batch_size) as (floor, _, _):
        floor_seconds, floor_result = run_posting_floor(floor, POSTING_DATE)
    return job_result, job_seconds, floor_result, floor_seconds, rows, n


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--book", choices=["production", "direct"], default="production")
    parser.add_argument("--keep-book", metavar="NAME", help="build the book into database NAME and keep it")
    parser.add_argument("--from-book", metavar="NAME", help="time a clone of the kept book NAME (no build)")
    parser.add_argument(
        "--batch-size",
        type=int,
        help="set the posting's default config row to this batch_size first (job and floor both go by it)",
    )
    args = parser.parse_args()
    configured = os.environ.get(DATABASE_URL_ENV)
    if not configured:
        raise SystemExit(f"set {DATABASE_URL_ENV}: the benchmark creates its databases on that server")
    server = sqlalchemy_url(configured)
    tag = uuid.uuid4().hex[:6]
    if args.keep_book:
        with psycopg.connect(libpq_url(server), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(args.keep_book)))
        rows = prepare(with_database(server, args.keep_book), args.accounts, args.book)
        print(f"kept the book in database {args.keep_book} ({rows:,} accrual rows)")
        return
    if args.from_book:
        job_result, job_seconds, floor_result, floor_seconds, rows, accounts = time_both(
            server, args.from_book, tag, args.batch_size
        )
    else:
        with database(server, f"bench_posting_book_{tag}") as book:
            prepare(book, args.accounts, args.book)
            assert book.database is not None
            job_result, job_seconds, floor_result, floor_seconds, rows, accounts = time_both(
                server, book.database, tag, args.batch_size
            )
    if job_result != floor_result:
        raise SystemExit(f"job and floor disagree:\n  job   {job_result}\n  floor {floor_result}")
    postings = job_result[0]
    print(
        f"\nsame result both ways: {postings:,} postings, {job_result[8]:,} ledger lines, "
        f"{job_result[10]:,} accruals capitalized (of {rows:,})"
    )
    print("\n| accounts | postings | what | wall | postings/s |\n| ---: | ---: | --- | ---: | ---: |")
    for label, seconds in (("job (forkserver executor)", job_seconds), ("bare-SQL floor", floor_seconds)):
        print(f"| {accounts:,} | {postings:,} | {label} | {seconds:.1f} s | {postings / seconds:,.0f} |")  # type: ignore[operator]
    print(f"\njob / floor = {job_seconds / floor_seconds:.2f}")


if __name__ == "__main__":
    main()

"""Benchmark of what the close ops now add to a run: the reconciliation checks and the month report
(not a test).

A fresh database on INTEREST_DATABASE_URL's server gets a generated book (default 1,000,000
accounts) and January 2025 made as production makes it: every date accrued by the accrual job's
lifecycle and chunk statement, every date posted by the posting job's (in this process, chunk
after chunk). The floor, measured in the same run, is the work the checks reconcile: January 31st's
accrual run and its posting run (the month end). Then, on that book:

- the accrual checks of Jan 31's accrual execution (what `close_accrual` adds);
- the posting checks of Jan 31's posting execution (what `close_posting` adds on any date);
- the month report (what `close_posting` adds at a month end), and the plot (the `report` command).

    INTEREST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python benchmarks/bench_checks.py --accounts 1000000
"""

import argparse
import os
import platform
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
from bench_support import database

from interest_pipeline.accrual.sql import JOB_TYPE as ACCRUAL_JOB_TYPE
from interest_pipeline.accrual.sql import accrue_chunk
from interest_pipeline.batch.config import BatchRunConfig
from interest_pipeline.batch.lifecycle import finish_batch, run_chunk, start_batch
from interest_pipeline.checks.sql import (
    CheckResult,
    accrual_checks,
    capitalized_accruals_match,
    due_accounts_have_outcome,
    gross_is_net_plus_tax,
    journal_checks,
    posting_checks,
    posting_dates,
)
from interest_pipeline.data.generate import generate_book
from interest_pipeline.db import migrate
from interest_pipeline.posting.lifecycle import post_business_date, unknown_run
from interest_pipeline.reporting.month import month_report
from interest_pipeline.reporting.plot import plot_month
from interest_pipeline.resources.database import DatabaseResource
from interest_pipeline.resources.ledger import PostgresLedgerResource
from interest_pipeline.settings import DATABASE_URL_ENV, libpq_url, load_settings, sqlalchemy_url

# the posting checks one by one, on the dates the posting execution touched (both journal checks
# come from one read of the ledger lines: timed together, as the close runs them)
ONE_BY_ONE: list[tuple[str, Callable[[psycopg.Connection, str], Sequence[CheckResult]]]] = [
    ("journal_checks (both journal checks)", lambda conn, e: journal_checks(conn, posting_dates(conn, e))),
    (
        "capitalized_accruals_match",
        lambda conn, e: [capitalized_accruals_match(conn, posting_dates(conn, e))],
    ),
    ("gross_is_net_plus_tax", lambda conn, e: [gross_is_net_plus_tax(conn, posting_dates(conn, e))]),
    ("due_accounts_have_outcome", lambda conn, e: [due_accounts_have_outcome(conn, e)]),
]
START = date(2025, 1, 1)
END = date(2025, 1, 31)


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    value = work()
    return time.perf_counter() - began, value


def accrue(database_resource: DatabaseResource, day: date) -> str:
    run_id = f"accrual-{day}-{uuid.uuid4().hex[:8]}"
    tasks = start_batch(
        database_resource,
        job_type=ACCRUAL_JOB_TYPE,
        run_id=run_id,
        business_date=day,
        trigger="BACKFILL",
        run_config=BatchRunConfig(),
        run_state=unknown_run,
    )
    for task in tasks:
        run_chunk(database_resource, task, accrue_chunk)
    finish_batch(database_resource, run_id)
    return run_id


def run(accounts: int) -> list[tuple[str, float, str]]:
    server = sqlalchemy_url(os.environ[DATABASE_URL_ENV])
    with database(server, f"bench_checks_{uuid.uuid4().hex[:8]}") as url:
        os.environ[DATABASE_URL_ENV] = url.render_as_string(hide_password=False)
        load_settings()  # this process reads its settings once: again, for the database just set
        migrate.upgrade(url)
        resource = DatabaseResource()
        with psycopg.connect(libpq_url(url), autocommit=True) as conn:
            generate_book(conn, accounts=accounts, start=date(2024, 12, 1), days=62, seed=1)
        ledger = PostgresLedgerResource()
        day = START
        book_began = time.perf_counter()
        while day < END:
            accrue(resource, day)
            post_business_date(resource, day, ledger)
            day += timedelta(days=1)
        book = time.perf_counter() - book_began
        accrual_time, accrual_id = timed(lambda: accrue(resource, END))
        posting_time, posting = timed(lambda: post_business_date(resource, END, ledger))
        with psycopg.connect(libpq_url(url)) as conn:
            conn.execute("ANALYZE")
            a_checks, a_results = timed(lambda: accrual_checks(conn, accrual_id))
            p_checks, p_results = timed(lambda: posting_checks(conn, posting.id))
            each = [(name, timed(lambda c=check: c(conn, posting.id))[0]) for name, check in ONE_BY_ONE]
            report, frame = timed(lambda: month_report(conn, START, END))
            with tempfile.TemporaryDirectory() as folder:
                plot, _ = timed(lambda: plot_month(conn, START, END, Path(folder, "p.png"), "bench"))
        failed = [r.name for r in (*a_results, *p_results) if not r.passed]
        assert not failed, f"checks failed on a correct book: {failed}"
        return [
            ("book: Jan 1-30 accrued and posted", book, "-"),
            ("floor: Jan 31 accrual run", accrual_time, "1.00x"),
            (
                "accrual checks (close_accrual)",
                a_checks,
                f"{a_checks / accrual_time:.2f}x of the accrual run",
            ),
            ("floor: Jan 31 posting run (month end)", posting_time, "1.00x"),
            (
                "posting checks (close_posting)",
                p_checks,
                f"{p_checks / posting_time:.2f}x of the posting run",
            ),
            *((f"  of which {name}", t, f"{t / posting_time:.2f}x") for name, t in each),
            (
                "month report (close_posting, month end)",
                report,
                f"{report / posting_time:.2f}x ({len(frame)} rows)",
            ),
            ("plot (report --plot)", plot, "-"),
        ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=1_000_000)
    args = parser.parse_args()
    rows = run(args.accounts)
    when = time.strftime("%Y-%m-%d %H:%M")
    print(f"{args.accounts:,} accounts; {platform.node()} {os.cpu_count()} cores; {when}")
    print("| what | wall | share |\n| --- | ---: | --- |")
    for what, seconds, share in rows:
        print(f"| {what} | {seconds:.2f} s | {share} |")


if __name__ == "__main__":
    main()

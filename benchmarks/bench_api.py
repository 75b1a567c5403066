"""Benchmark of the operations API's heaviest reads (not a test).

A fresh database on INTEREST_DATABASE_URL's server, migrated; one execution with `--results`
account results (a share `--failed-share` of them FAILED) and a year of executions of both jobs
(`--days` each, two of them today). Then, at the server (the API's own GraphQL execution and SQL,
ApiService.execute, without HTTP), the median of `--calls` calls of:

- a page of 100 FAILED results of the big execution with its totalCount,
- a page of 100 of its results (any status) with its totalCount, at offset 0, half-way and last,
- the summary (the reference's getInterestBatchSummary) over the year of executions,
- the floor measured in the same run: `{ __typename }` through the same path (GraphQL and
  request overhead, no SQL).

It prints the plans of the page's two statements, so a scan shows.

    INTEREST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python benchmarks/bench_api.py --results 1000000
"""

import argparse
import os
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
from bench_support import api_queries, database, median_ms

from interest_pipeline.db import migrate
from interest_pipeline.settings import DATABASE_URL_ENV, libpq_url, sqlalchemy_url

BIG = "bench-big-execution"
PAGE = (
    '{ getInterestBatchAccountResults(input: {batchExecutionId: "' + BIG + '", status: "FAILED",'
    " limit: 100, offset: 0}) { data { accountId accountNumber interestCalculated status errorMessage"
    " processingTimeMs } totalCount } }"
)


def results_page(offset: int) -> str:
    """A page of 100 of the big execution's results, any status, at `offset`, with its totalCount."""
    return (
        '{ getInterestBatchAccountResults(input: {batchExecutionId: "' + BIG + '", limit: 100,'
        f" offset: {offset}}}) {{ data {{ accountId accountNumber interestCalculated status }}"
        " totalCount } }"
    )


SUMMARY = """{ getInterestBatchSummary { totalAccountsProcessedToday totalInterestPostedToday
  failedAccountsToday avgProcessingTimeMs currentRunningJobs
  lastCompletedRun { id jobType completedAt status } } }"""
FLOOR = "{ __typename }"


def populate(conn: psycopg.Connection, results: int, failed_share: float, days: int) -> None:
    """Set-based: accounts, the big execution and its results, a year of executions."""
    every = max(1, round(1 / failed_share)) if failed_share > 0 else results + 1
    conn.execute(
        "INSERT INTO interest_products (code, account_type, day_count, posting_frequency, tier_mode)"
        " VALUES ('SAV', 'SAVINGS', 'ACT/365F', 'MONTHLY', 'WHOLE')"
    )
    conn.execute(
        "INSERT INTO accounts (id, account_number, product_code, currency, status, opened_on)"
        " SELECT i, 'ACC-' || lpad(i::text, 8, '0'), 'SAV', 'USD', 'ACTIVE', '2020-01-01'"
        " FROM generate_series(1, %s) i",
        (results,),
    )
    now = datetime.now(UTC)
    conn.execute(
        "INSERT INTO interest_batch_execution (id, job_type, business_date, trigger, status, account_types,"
        " accounts_processed, accounts_succeeded, accounts_failed, totals_by_currency, started_at,"
        " completed_at, total_chunks, chunks_completed)"
        " VALUES (%s, 'daily_interest_accrual', %s, 'SCHEDULE', 'PARTIAL', ARRAY['SAVINGS'], %s, %s, %s,"
        ' \'{"USD": "1.00"}\', %s, %s, 20, 20)',
        (
            BIG,
            (now - timedelta(days=1)).date(),
            results,
            results - results // every,
            results // every,
            now - timedelta(hours=2),
            now - timedelta(hours=1),
        ),
    )
    conn.execute(
        "INSERT INTO interest_batch_account_result (execution_id, account_id, job_type, business_date,"
        " status, amount, currency, reason, error_message, processing_time_ms)"
        " SELECT %(id)s, i, 'daily_interest_accrual', %(day)s,"
        "        CASE WHEN i %% %(every)s = 0 THEN 'FAILED' ELSE 'SUCCESS' END,"
        "        CASE WHEN i %% %(every)s = 0 THEN NULL ELSE 0.1234567890 END, 'USD',"
        "        CASE WHEN i %% %(every)s = 0 THEN 'NO_RATE' END,"
        "        CASE WHEN i %% %(every)s = 0 THEN 'no rate tier' END, 0.021"
        " FROM generate_series(1, %(n)s) i",
        {"id": BIG, "day": (now - timedelta(days=1)).date(), "every": every, "n": results},
    )
    # A year of both jobs: one execution a day each, the last two started today.
    conn.execute(
        "INSERT INTO interest_batch_execution (id, job_type, business_date, trigger, status, account_types,"
        " accounts_processed, accounts_succeeded, totals_by_currency, started_at, completed_at)"
        " SELECT job || '-' || d, job, (%(now)s::timestamptz - make_interval(days => d))::date, 'SCHEDULE',"
        "        'SUCCESS', ARRAY['SAVINGS'], 1000000, 1000000,"
        "        jsonb_build_object('USD', '292215.58', 'JPY', '13460653'),"
        "        %(now)s::timestamptz - make_interval(days => d - 1, mins => 50),"
        "        %(now)s::timestamptz - make_interval(days => d - 1, mins => 49)"
        " FROM generate_series(1, %(days)s) d,"
        "      unnest(ARRAY['daily_interest_accrual', 'interest_posting']) job",
        {"now": now, "days": days},
    )
    conn.execute("ANALYZE")


def plans(conn: psycopg.Connection) -> list[str]:
    page = (
        "SELECT r.account_id FROM interest_batch_account_result r LEFT JOIN accounts a ON a.id = r.account_id"
        " WHERE r.execution_id = %(id)s AND r.status = 'FAILED' AND r.status <> 'SUCCESS'"
        " ORDER BY r.account_id, r.business_date LIMIT 100"
    )
    count = (
        "SELECT count(*) FROM interest_batch_account_result"
        " WHERE execution_id = %(id)s AND status = 'FAILED' AND status <> 'SUCCESS'"
    )
    lines = []
    for statement in (page, count):
        rows = conn.execute("EXPLAIN (ANALYZE, COSTS OFF) " + statement, {"id": BIG}).fetchall()
        lines += [r[0] for r in rows] + [""]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--results", type=int, default=1_000_000, help="account results in the big execution")
    parser.add_argument(
        "--failed-share", type=float, default=0.001, help="share of them FAILED (0.001: 1,000 in 1M)"
    )
    parser.add_argument("--days", type=int, default=365, help="days of executions of each job")
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    server = sqlalchemy_url(os.environ[DATABASE_URL_ENV])
    with database(server, f"ip_bench_api_{uuid.uuid4().hex[:8]}") as url:
        migrate.upgrade(url)
        started = time.perf_counter()
        with psycopg.connect(libpq_url(url), autocommit=True) as conn:
            populate(conn, args.results, args.failed_share, args.days)
            print(f"populated in {time.perf_counter() - started:.1f} s")
            for line in plans(conn):
                print("   ", line)
        with api_queries(url) as run:
            page = run(PAGE)()
            total = page["data"]["getInterestBatchAccountResults"]["totalCount"]
            figures = {
                f"page of 100 FAILED results + totalCount ({total:,} FAILED of {args.results:,})": median_ms(
                    run(PAGE), args.calls
                ),
                **{
                    f"page of 100 results at offset {offset:,} + totalCount": median_ms(
                        run(results_page(offset)), args.calls
                    )
                    for offset in (0, args.results // 2, args.results - 100)
                },
                f"summary over {2 * args.days:,} executions": median_ms(run(SUMMARY), args.calls),
                "floor: { __typename }": median_ms(run(FLOOR), args.calls),
            }
    print(f"\n| query (median of {args.calls} calls at the server) | ms |\n| --- | ---: |")
    for what, ms in figures.items():
        print(f"| {what} | {ms:.1f} |")


if __name__ == "__main__":
    main()

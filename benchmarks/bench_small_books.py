"""Benchmark of small books through the pipeline's catch-up (not a test): job wall time of the
quickstart's book and of a 90-date catch-up, ranged (one Dagster run over the range) against a run
per date and job.

On INTEREST_DATABASE_URL's server, fresh databases (dropped at the end) get a generated book
(`interest_pipeline.data.generate`, --accounts, default 2,000: the quickstart's), Dagster's run and
event storage in PostgreSQL as in production, then:

1. the quickstart's range 2025-12-01 .. 2026-01-31 (62 dates, 124 accrual and posting
   executions) by `pipeline.run_pipeline(ranged=True)`: what `interest-pipeline quickstart` and
   `interest-pipeline run` do by default for a small book;
2. a 90-date catch-up 2025-10-01 .. 2025-12-29 of a fresh book of the same size, the same way;
3. the old way for comparison, a run per date and job (`ranged=False`, the default executor,
   forkserver), on the first --per-date-dates dates (default 5) of a fresh quickstart book; the
   per-run mean is extrapolated to the 124 runs (it is the same on every date).

The wall time printed is that of the job runs only (book generation and migrations excluded),
from the call to the last run's end, in this process as the CLI runs them. Each phase checks that
every date got its SUCCESS accrual and posting executions.

    INTEREST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python benchmarks/bench_small_books.py
"""

import argparse
import os
import time
from datetime import date, timedelta

import psycopg
from bench_support import database, point_at, postgres_instance
from sqlalchemy.engine import URL, make_url

from interest_pipeline.data.generate import generate_book
from interest_pipeline.db import migrate
from interest_pipeline.settings import DATABASE_URL_ENV, libpq_url

QUICKSTART = (date(2025, 12, 1), date(2026, 1, 31))
CATCH_UP = (date(2025, 10, 1), date(2025, 12, 29))  # 90 dates


def fresh_book(url: URL, accounts: int, first: date, last: date, seed: int) -> None:
    with psycopg.connect(libpq_url(url)) as conn:
        generate_book(
            conn,
            accounts=accounts,
            start=first,
            days=(last - first).days + 1,
            seed=seed,
            replace=True,
            discard_ledger=True,
        )


def executions(url: URL) -> tuple[int, int]:
    """(executions, of which SUCCESS or PARTIAL)."""
    with psycopg.connect(libpq_url(url)) as conn:
        row = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE status IN ('SUCCESS', 'PARTIAL'))"
            " FROM interest_batch_execution"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def timed_pipeline(url: URL, first: date, last: date, *, ranged: bool) -> float:
    from interest_pipeline.pipeline import run_pipeline

    started = time.perf_counter()
    runs = run_pipeline(first, last, ranged=ranged)
    seconds = time.perf_counter() - started
    dates = (last - first).days + 1
    made, done = executions(url)
    assert len(runs) == 2 * dates and made == done == 2 * dates, (len(runs), made, done)
    dagster_runs = len({r.run_id for r in runs})
    print(
        f"  {first} .. {last}: {dates} dates, {made} executions in {dagster_runs} Dagster run(s): "
        f"{seconds:.1f} s ({seconds / dates:.2f} s per date)",
        flush=True,
    )
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--per-date-dates", type=int, default=5, help="dates of the per-date comparison (0: none)"
    )
    args = parser.parse_args()
    server = make_url(os.environ.get(DATABASE_URL_ENV, "postgresql://postgres@127.0.0.1:5432/postgres"))
    print(f"load average before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    with (
        database(server, "bench_small_books") as url,
        database(server, "bench_small_books_dagster") as dagster_url,
        postgres_instance(dagster_url),
    ):
        migrate.upgrade(url)
        point_at(url)
        print(f"ranged, {args.accounts:,} accounts: the quickstart's range", flush=True)
        fresh_book(url, args.accounts, *QUICKSTART, args.seed)
        quickstart = timed_pipeline(url, *QUICKSTART, ranged=True)
        print(f"ranged, {args.accounts:,} accounts: a 90-date catch-up", flush=True)
        fresh_book(url, args.accounts, *CATCH_UP, args.seed)
        catch_up = timed_pipeline(url, *CATCH_UP, ranged=True)
        if args.per_date_dates:
            first = QUICKSTART[0]
            last = first + timedelta(days=args.per_date_dates - 1)
            print(f"per date (a run per date and job), {args.accounts:,} accounts", flush=True)
            fresh_book(url, args.accounts, *QUICKSTART, args.seed)
            per_date = timed_pipeline(url, first, last, ranged=False)
            per_run = per_date / (2 * args.per_date_dates)
            print(f"  {per_run:.2f} s per run: the quickstart's 124 runs would take ~{124 * per_run:.0f} s")
    print(
        f"quickstart range ranged: {quickstart:.1f} s (target < 60 s); "
        f"90-date catch-up ranged: {catch_up:.1f} s (target < 60 s)"
    )
    print(f"load average after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")


if __name__ == "__main__":
    main()

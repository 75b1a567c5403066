"""Benchmark of what history costs the two jobs and the API (issue 12's "flat in history"; not a test).

For each `--months M` (same `--accounts`, same `--seed`), in a process of its own and on fresh
scratch databases of INTEREST_DATABASE_URL's server:

1. a generated book (`interest_pipeline.data.generate`) whose balance snapshots span M + 1 months
   from START;
2. M months of history made as production makes it: every business date accrued by the accrual
   job's own lifecycle and chunk statement (account results, statuses, execution rows), and every
   business date posted by the posting job's (the day's maturities and closures, the month ends),
   a line per month with its elapsed time and an estimate of what is left;
3. then, on month M + 1:
   - MID_MONTH_DAY accrued by the real `daily_interest_accrual` job (`dg.execute_job`, its default
     executor, on a PostgreSQL-backed Dagster instance), the dates before it in that month accrued
     and posted through the lifecycles first; against its bare floor (bench_support.BARE_ACCRUAL,
     bench_accrual's too: the `INSERT ... SELECT` of the job's outcome CTEs, whole book, one
     statement) on a
     CREATE DATABASE ... TEMPLATE clone taken just before the job ran;
   - the month end posted by the real `interest_posting` job, every earlier date of the month
     accrued and posted first, against bench_posting's floor statements on a clone;
   both comparisons (counts and sums) must agree, or the script fails;
   - the API's execution page and result pages at the server (ApiService.execute, as
     bench_api.py does, median of `--calls`, in a fresh process as an API server is):
     getInterestBatchExecutions' first page, and
     getInterestBatchAccountResults of the month-end posting's execution, FAILED and unfiltered;
   - the sizes and row counts of interest_accrual_entries and interest_batch_account_result.

Then one table for all M, and each figure at the largest M against the smallest (M = 1 when given:
the issue asks for at most 1.2x after 24 months).

    INTEREST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python benchmarks/bench_history.py --accounts 100000 --months 1 --months 24

One process per M because a forkserver keeps the environment (INTEREST_DATABASE_URL) it started
with, so a second book in the same process would send the steps to the first.
"""

import argparse
import json
import os
import subprocess
import time
import uuid
from datetime import date, timedelta
from typing import Any

import dagster as dg
import psycopg
from bench_support import (
    accrue_date,
    api_queries,
    child_result,
    database,
    median_ms,
    point_at,
    post_date,
    postgres_instance,
    run_bare_accrual,
    run_job,
    run_posting_floor,
    run_posting_job,
    settle,
    timed,
)
from sqlalchemy.engine import URL

from interest_pipeline.accrual.job import reconstructable_accrual_job
from interest_pipeline.data.generate import generate_book
from interest_pipeline.db import migrate
from interest_pipeline.resources.database import DatabaseResource
from interest_pipeline.resources.ledger import PostgresLedgerResource
from interest_pipeline.settings import DATABASE_URL_ENV, libpq_url, sqlalchemy_url

START = date(2023, 1, 1)
MID_MONTH_DAY = 15
ACCRUAL_FINGERPRINT = """
SELECT count(*), sum(amount), sum(balance), count(DISTINCT account_id)
  FROM interest_accrual_entries WHERE accrual_date = %(business_date)s
"""
SIZED_TABLES = ("interest_accrual_entries", "interest_batch_account_result")
# A partitioned table's own size is 0: its partitions' sum (pg_partition_tree has no rows for a
# table that is not partitioned).
TOTAL_SIZE = """
SELECT coalesce((SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree(%(table)s::regclass)),
                pg_total_relation_size(%(table)s::regclass))
"""


def month_start(n: int) -> date:
    """The first day of the n-th month from START (n = 0 is START's month)."""
    months = START.month - 1 + n
    return date(START.year + months // 12, months % 12 + 1, 1)


def month_end(n: int) -> date:
    return month_start(n + 1) - timedelta(days=1)


def dates(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def accrual_fingerprint(url: URL, business_date: date) -> tuple[object, ...]:
    with psycopg.connect(libpq_url(url)) as conn:
        return tuple(conn.execute(ACCRUAL_FINGERPRINT, {"business_date": business_date}).fetchone() or ())


def build_history(url: URL, months: int) -> None:
    """Months 0 .. months-1, every date accrued then posted through the jobs' lifecycles."""
    database = DatabaseResource()
    ledger = PostgresLedgerResource()
    started = time.perf_counter()
    for n in range(months):
        month_started = time.perf_counter()
        for d in dates(month_start(n), month_end(n)):
            accrue_date(database, d)
            post_date(database, ledger, d)
        elapsed = time.perf_counter() - started
        left = elapsed / (n + 1) * (months - n - 1)
        print(
            f"  month {n + 1}/{months} ({month_start(n):%Y-%m}) accrued and posted in "
            f"{time.perf_counter() - month_started:.1f} s; {elapsed:.0f} s so far, ~{left:.0f} s left",
            flush=True,
        )


def run_accrual_job(
    url: URL, instance: dg.DagsterInstance, business_date: date
) -> tuple[float, tuple[object, ...]]:
    seconds, _ = run_job(url, instance, reconstructable_accrual_job, business_date, "accrual job")
    return seconds, accrual_fingerprint(url, business_date)


def run_accrual_floor(url: URL, business_date: date) -> tuple[float, tuple[object, ...]]:
    seconds, rows = run_bare_accrual(url, business_date)
    print(f"  bare INSERT ... SELECT ({rows:,} rows): {seconds:.1f} s", flush=True)
    return seconds, accrual_fingerprint(url, business_date)


def agree(what: str, job: tuple[object, ...], floor: tuple[object, ...]) -> None:
    if job != floor:
        raise SystemExit(f"{what}: job and floor disagree:\n  job   {job}\n  floor {floor}")
    print(f"  {what}: job and floor agree {job}", flush=True)


def api_medians(url: URL, posting_execution: str, calls: int) -> dict[str, float]:
    queries = {
        "executions, first page": (
            "{ getInterestBatchExecutions(input: {limit: 20, offset: 0}) {"
            " data { id businessDate status totalAccounts failedAccounts totalsByCurrency } totalCount } }"
        ),
        "month-end posting's results, FAILED": (
            '{ getInterestBatchAccountResults(input: {batchExecutionId: "' + posting_execution + '",'
            ' status: "FAILED", limit: 100, offset: 0}) { data { accountId accountNumber'
            " interestCalculated status errorMessage processingTimeMs } totalCount } }"
        ),
        "month-end posting's results, first page": (
            '{ getInterestBatchAccountResults(input: {batchExecutionId: "' + posting_execution + '",'
            " limit: 100, offset: 0}) { data { accountId accountNumber"
            " interestCalculated status errorMessage processingTimeMs } totalCount } }"
        ),
    }
    with api_queries(url) as run:
        return {what: median_ms(run(query), calls) for what, query in queries.items()}


def sizes(url: URL) -> dict[str, list[int]]:
    with psycopg.connect(libpq_url(url)) as conn:
        return {
            table: [
                int(conn.execute(TOTAL_SIZE, {"table": table}).fetchone()[0]),  # type: ignore[index]
                int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]),  # type: ignore[index]
            ]
            for table in SIZED_TABLES
        }


def measure(server: URL, accounts: int, months: int, seed: int, calls: int) -> dict[str, Any]:
    """One M, start to end, in this process: what the parent's table is made of."""
    tag = uuid.uuid4().hex[:6]
    month = months  # the month measured: the one after the history
    accrual_date = month_start(month).replace(day=MID_MONTH_DAY)
    posting_date = month_end(month)
    print(
        f"\n{accounts:,} accounts, {months} months of history ({month_start(0):%Y-%m} .. "
        f"{month_end(months - 1):%Y-%m}), measured on {accrual_date} (accrual) and {posting_date} (posting)",
        flush=True,
    )
    with (
        database(server, f"bench_history_{tag}") as url,
        database(server, f"bench_history_dagster_{tag}") as dagster_url,
    ):
        assert url.database is not None
        point_at(url)
        migrate.upgrade(url)
        started = time.perf_counter()
        with psycopg.connect(libpq_url(url)) as conn:
            generate_book(
                conn, accounts=accounts, start=START, days=(posting_date - START).days + 1, seed=seed
            )
        timed(f"generate {accounts:,} accounts, snapshots {START} .. {posting_date}", started)
        started = time.perf_counter()
        build_history(url, months)
        build_seconds = timed(f"{months} months of history built", started)
        database_resource = DatabaseResource()
        ledger = PostgresLedgerResource()
        for d in dates(month_start(month), accrual_date - timedelta(days=1)):
            accrue_date(database_resource, d)
            post_date(database_resource, ledger, d)
        settle(url)
        figures: dict[str, Any] = {"months": months, "accounts": accounts, "build_s": build_seconds}
        with postgres_instance(dagster_url) as instance:
            with database(server, f"bench_history_accrual_floor_{tag}", template=url.database) as floor_url:
                job_s, job_result = run_accrual_job(url, instance, accrual_date)
                floor_s, floor_result = run_accrual_floor(floor_url, accrual_date)
            agree(f"accrual of {accrual_date}", job_result, floor_result)
            figures["accrual"] = {"date": accrual_date.isoformat(), "job_s": job_s, "floor_s": floor_s}
            post_date(database_resource, ledger, accrual_date)
            for d in dates(accrual_date + timedelta(days=1), posting_date):
                accrue_date(database_resource, d)
                if d < posting_date:
                    post_date(database_resource, ledger, d)
            settle(url)
            with database(server, f"bench_history_posting_floor_{tag}", template=url.database) as floor_url:
                job_s, job_result, posting_execution = run_posting_job(url, instance, posting_date)
                floor_s, floor_result = run_posting_floor(floor_url, posting_date)
            agree(f"posting of {posting_date}", job_result, floor_result)
            figures["posting"] = {
                "date": posting_date.isoformat(),
                "job_s": job_s,
                "floor_s": floor_s,
                "postings": job_result[0],
            }
        settle(url)
        figures["api_ms"] = api_medians_apart(url, posting_execution, calls)
        figures["sizes"] = sizes(url)
    return figures


def api_medians_apart(url: URL, posting_execution: str, calls: int) -> dict[str, float]:
    """api_medians in a process of its own, as an API server is: measured in this one, after the
    history's thousands of lifecycle runs, every call paid for that process's grown heap (the
    same few ms added to each query, whatever its SQL)."""
    medians: dict[str, float] = child_result(
        __file__,
        *("--api-of", url.render_as_string(hide_password=False), "--api-execution", posting_execution),
        *("--calls", str(calls)),
    )
    return medians


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def report(runs: list[dict[str, Any]], calls: int) -> None:
    for r in runs:
        print(f"{r['months']} months: measured {r.get('measured_at', '?')} on commit {r.get('commit', '?')}")
    print("\n| accounts | months of history | what | job s | floor s | job/floor |")
    print("| ---: | ---: | --- | ---: | ---: | ---: |")
    for r in runs:
        for what in ("accrual", "posting"):
            f = r[what]
            label = f"accrual of {f['date']}" if what == "accrual" else f"month-end posting {f['date']}"
            if what == "posting":
                label += f" ({f['postings']:,} postings)"
            print(
                f"| {r['accounts']:,} | {r['months']} | {label} | {f['job_s']:.2f} | {f['floor_s']:.2f} |"
                f" {ratio(f['job_s'], f['floor_s'])} |"
            )
    print(f"\n| months of history | API query (median of {calls} calls at the server) | ms |")
    print("| ---: | --- | ---: |")
    for r in runs:
        for what, ms in r["api_ms"].items():
            print(f"| {r['months']} | {what} | {ms:.1f} |")
    print("\n| months of history | table | size | rows |\n| ---: | --- | ---: | ---: |")
    for r in runs:
        for table, (size, rows) in r["sizes"].items():
            print(f"| {r['months']} | {table} | {size / 2**20:,.1f} MiB | {rows:,} |")
    print("\n| months of history | history build | per month |\n| ---: | ---: | ---: |")
    for r in runs:
        print(f"| {r['months']} | {r['build_s']:.0f} s | {r['build_s'] / r['months']:.1f} s |")
    if len(runs) > 1:
        first, last = runs[0], runs[-1]
        print(f"\nafter {last['months']} months against after {first['months']} (issue 12: at most 1.2x)")
        for what in ("accrual", "posting"):
            for side in ("job_s", "floor_s"):
                a, b = last[what][side], first[what][side]
                print(f"  {what} {side[:-2]}: {a:.2f} s / {b:.2f} s = {ratio(a, b)}")
        for what, ms in last["api_ms"].items():
            before = first["api_ms"][what]
            print(f"  API {what}: {ms:.1f} ms / {before:.1f} ms = {ratio(ms, before)}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--months", type=int, action="append", help="months of history (repeatable)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--calls", type=int, default=20, help="API calls per median")
    parser.add_argument(
        "--runs-file",
        help="JSON file of measured runs: an M already in it (same accounts and seed) is reported, not"
        " re-measured, and each new M is added to it as soon as it is measured",
    )
    parser.add_argument("--result-file", help=argparse.SUPPRESS)  # a child's: one M, figures as JSON
    parser.add_argument("--api-of", help=argparse.SUPPRESS)  # a child's: the API medians on this database
    parser.add_argument("--api-execution", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.api_of:
        with open(args.result_file, "w") as out:
            json.dump(api_medians(sqlalchemy_url(args.api_of), args.api_execution, args.calls), out)
        return
    configured = os.environ.get(DATABASE_URL_ENV)
    if not configured:
        raise SystemExit(f"set {DATABASE_URL_ENV}: the benchmark creates its databases on that server")
    months = sorted(set(args.months or [1, 24]))
    if min(months) < 1:
        raise SystemExit("--months must be at least 1")
    if args.result_file:
        figures = measure(sqlalchemy_url(configured), args.accounts, months[0], args.seed, args.calls)
        with open(args.result_file, "w") as out:
            json.dump(figures, out)
        return
    saved = load_runs(args.runs_file)
    runs = []
    for m in months:
        key = run_key(args.accounts, m, args.seed)
        if key in saved:
            print(f"{key}: measured before, from {args.runs_file}", flush=True)
            runs.append(saved[key])
            continue
        measured_commit = commit()  # the code the child imports now, not HEAD when it ends
        figures = child_result(
            __file__,
            *("--accounts", str(args.accounts), "--months", str(m)),
            *("--seed", str(args.seed), "--calls", str(args.calls)),
        )
        figures["commit"] = measured_commit
        figures["measured_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        runs.append(figures)
        if args.runs_file:
            saved[key] = figures
            with open(args.runs_file, "w") as out:
                json.dump(saved, out, indent=1)
    report(runs, args.calls)


def run_key(accounts: int, months: int, seed: int) -> str:
    return f"accounts={accounts} months={months} seed={seed}"


def load_runs(path: str | None) -> dict[str, dict[str, Any]]:
    if not path or not os.path.exists(path):
        return {}
    with open(path) as f:
        runs: dict[str, dict[str, Any]] = json.load(f)
    return runs


def commit() -> str:
    """The code measured: the checkout's commit, marked when it has uncommitted changes."""
    here = os.path.dirname(os.path.abspath(__file__))
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True, text=True)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=here, capture_output=True, text=True
    )
    return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


if __name__ == "__main__":
    main()

"""History's cost measured on kept books, the books taken in turn (issue 12's "flat in history"; not a test).

    # once: one book, kept after 1 and after 12 months of history (~100 s a month at 100,000 accounts)
    INTEREST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python benchmarks/bench_history_kept.py build --accounts 100000 --keep 1 --keep 12
    # each measurement: three rounds, each posting the month end of every kept book in turn
    INTEREST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python benchmarks/bench_history_kept.py measure --keep 1 --keep 12 --rounds 3

`build` makes one book as bench_history.py does (a generated book, then every business date accrued
and posted through the jobs' own lifecycles and statements) and keeps, for each `--keep M`, a copy
of it (`CREATE DATABASE <prefix>_m<M> TEMPLATE ...`) after M months of history with month M + 1
accrued through its last day and posted through the day before: ready for a month-end posting.
Every kept book has the same accounts; only its history differs.

`measure` takes, in each round, each kept book in turn: a copy of it, migrated to the head of the
code that runs (so a book kept at an older revision measures today's code), whose month end is
posted by the real `interest_posting` job (`dg.execute_job`, its default executor, on a
PostgreSQL-backed Dagster instance: plan, chunks and the close op's checks), and the next night
accrued by the real `daily_interest_accrual` job on the same instance; then the API's
execution page and result pages of that posting's execution at the server, in a fresh process
(bench_history's queries, median of `--calls`); then the copy is dropped. Taking the books in turn
puts every M under the same machine state (page cache, autovacuum, other work), which
bench_history.py, one M per process hours apart, cannot. No floor here: bench_history.py has it.
"""

import argparse
import json
import os
import statistics
import time
import uuid
from datetime import date, timedelta
from typing import Any

import psycopg
from bench_history import START, api_medians_apart, dates, month_end, month_start, run_accrual_job
from bench_support import (
    accrue_date,
    child_result,
    database,
    point_at,
    post_date,
    postgres_instance,
    posting_fingerprint,
    run_posting_job,
    settle,
)
from psycopg import sql
from sqlalchemy.engine import URL

from interest_pipeline.data.generate import generate_book
from interest_pipeline.db import migrate
from interest_pipeline.resources.database import DatabaseResource
from interest_pipeline.resources.ledger import PostgresLedgerResource
from interest_pipeline.settings import DATABASE_URL_ENV, libpq_url, sqlalchemy_url


def copy_database(server: URL, name: str, template: str) -> None:
    with psycopg.connect(libpq_url(server.set(database="postgres")), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
        )


def posting_day(months: int) -> date:
    """The month end a book kept after `months` months of history is ready to post."""
    return month_end(months)


def build(server: URL, accounts: int, keep: list[int], seed: int, prefix: str) -> None:
    last = max(keep)
    work = f"{prefix}_building"
    with database(server, work) as url:
        point_at(url)
        migrate.upgrade(url)
        started = time.perf_counter()
        with psycopg.connect(libpq_url(url)) as conn:
            generate_book(
                conn, accounts=accounts, start=START, days=(month_end(last) - START).days + 1, seed=seed
            )
        print(f"generated {accounts:,} accounts in {time.perf_counter() - started:.0f} s", flush=True)
        database_resource, ledger = DatabaseResource(), PostgresLedgerResource()
        for n in range(last + 1):
            month_started = time.perf_counter()
            for d in dates(month_start(n), month_end(n)):
                accrue_date(database_resource, d)
                if n in keep and d == posting_day(n):
                    settle(url)
                    copy_database(server, f"{prefix}_m{n}", work)
                    print(f"  kept {prefix}_m{n}: {n} months of history, ready to post {d}", flush=True)
                post_date(database_resource, ledger, d)
            seconds = time.perf_counter() - month_started
            print(f"month {n + 1}/{last + 1} ({month_start(n):%Y-%m}) in {seconds:.0f} s", flush=True)


def measure_once(
    server: URL, dagster_url: URL, prefix: str, months: int, calls: int, lifecycle: bool
) -> dict[str, Any]:
    copy = f"{prefix}_copy_{uuid.uuid4().hex[:6]}"
    with database(server, copy, template=f"{prefix}_m{months}") as url:
        point_at(url)
        migrate.upgrade(url)
        settle(url)
        if lifecycle:
            # the posting job's own lifecycle and statements, without Dagster's launch and steps
            started = time.perf_counter()
            run_id = post_date(DatabaseResource(), PostgresLedgerResource(), posting_day(months))
            seconds = time.perf_counter() - started
            made = posting_fingerprint(url, posting_day(months))
            accrual: dict[str, Any] = {}
        else:
            with postgres_instance(dagster_url) as instance:
                seconds, made, run_id = run_posting_job(url, instance, posting_day(months))
                # then the next night, by the real accrual job: the accrual of one date on this history
                accrual_s, accrued = run_accrual_job(url, instance, posting_day(months) + timedelta(days=1))
            accrual = {"accrual_s": accrual_s, "accrual_rows": accrued[0]}
        settle(url)
        api = api_medians_apart(url, run_id, calls)
    return {"months": months, "posting_s": seconds, "postings": made[0], **accrual, "api_ms": api}


def measure_apart(prefix: str, months: int, calls: int, dagster_url: URL, lifecycle: bool) -> dict[str, Any]:
    """measure_once in a process of its own: a forkserver keeps the environment it started with
    (INTEREST_DATABASE_URL), so a second copy in the same process would send the steps to the first."""
    arguments = ["measure", "--keep", str(months), "--prefix", prefix, "--calls", str(calls)]
    arguments += ["--dagster-url", dagster_url.render_as_string(hide_password=False)]
    arguments += ["--lifecycle"] if lifecycle else []
    figures: dict[str, Any] = child_result(__file__, *arguments)
    return figures


def measure(server: URL, keep: list[int], rounds: int, calls: int, prefix: str, lifecycle: bool) -> None:
    figures: dict[int, list[dict[str, Any]]] = {m: [] for m in keep}
    with database(server, f"{prefix}_dagster_{uuid.uuid4().hex[:6]}") as dagster_url:
        for r in range(rounds):
            for m in keep:
                print(f"\nround {r + 1}/{rounds}, {m} months of history", flush=True)
                figures[m].append(measure_apart(prefix, m, calls, dagster_url, lifecycle))
                print(f"  {json.dumps(figures[m][-1])}", flush=True)
    base = min(keep)
    if not lifecycle:
        base_accrual = statistics.median(f["accrual_s"] for f in figures[base])
        print(f"\n| months | accrual job (the next night), each round | median | vs {base} |")
        print("| ---: | --- | ---: | ---: |")
        for m in keep:
            seconds = [f["accrual_s"] for f in figures[m]]
            median = statistics.median(seconds)
            each = ", ".join(f"{s:.2f}" for s in seconds)
            print(f"| {m} | {each} s | {median:.2f} s | {median / base_accrual:.2f}x |")
        print()
    print(f"\n| months | posting job, each round | median | vs {base} | API medians (ms), each round |")
    print("| ---: | --- | ---: | ---: | --- |")
    base_median = statistics.median(f["posting_s"] for f in figures[base])
    for m in keep:
        seconds = [f["posting_s"] for f in figures[m]]
        api = "; ".join(" / ".join(f"{v:.1f}" for v in f["api_ms"].values()) for f in figures[m])
        median = statistics.median(seconds)
        print(
            f"| {m} | {', '.join(f'{s:.2f}' for s in seconds)} s | {median:.2f} s | "
            f"{median / base_median:.2f}x | {api} |"
        )
    print("\nAPI columns: " + " / ".join(next(iter(figures[base]))["api_ms"].keys()))
    for what in next(iter(figures[base]))["api_ms"]:
        medians = {m: statistics.median(f["api_ms"][what] for f in figures[m]) for m in keep}
        print(
            f"  {what}: "
            + ", ".join(f"{m} months {v:.1f} ms ({v / medians[base]:.2f}x)" for m, v in medians.items())
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["build", "measure"])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument(
        "--keep", type=int, action="append", required=True, help="months of history (repeatable)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=50, help="API calls per median")
    parser.add_argument("--prefix", default="kept_history", help="the kept books' database names")
    parser.add_argument(
        "--lifecycle",
        action="store_true",
        help="post through the posting job's lifecycle (its statements, no Dagster launch or steps)",
    )
    parser.add_argument("--result-file", help=argparse.SUPPRESS)  # a child's: one copy measured
    parser.add_argument("--dagster-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    configured = os.environ.get(DATABASE_URL_ENV)
    if not configured:
        raise SystemExit(f"set {DATABASE_URL_ENV}: the benchmark keeps its databases on that server")
    keep = sorted(set(args.keep))
    if min(keep) < 1:
        raise SystemExit("--keep must be at least 1")
    server = sqlalchemy_url(configured)
    if args.result_file:
        figures = measure_once(
            server, sqlalchemy_url(args.dagster_url), args.prefix, keep[0], args.calls, args.lifecycle
        )
        with open(args.result_file, "w") as out:
            json.dump(figures, out)
    elif args.command == "build":
        build(server, args.accounts, keep, args.seed, args.prefix)
    else:
        measure(server, keep, args.rounds, args.calls, args.prefix, args.lifecycle)


if __name__ == "__main__":
    main()

"""Benchmark of the posting job at a month end (not a test).

A fresh database on INTEREST_DATABASE_URL's server gets a generated book
(`interest_pipeline.data.generate`, default 1,000,000 accounts) and January 2025 made the way
production makes it (`--book production`, the default): every date accrued by the accrual job's
own lifecycle and chunk statement (its account results, statuses and executions, which the
posting's completeness check reads), and every date before the month end posted by the posting
job's (the maturities and closures of January get their final postings on their day). With
`--book direct` the month of ACCRUED rows is instead written by ONE `INSERT ... SELECT` (a fixed
2 % a year of each account's first snapshot) plus one finished accrual execution per date, and
nothing is posted before the month end (so the job makes January's finals late). The database is
then cloned (CREATE DATABASE ... TEMPLATE):

- on the original, 2025-01-31 is posted by the real `interest_posting` job, launched with
  `dg.execute_job` on a PostgreSQL-backed Dagster instance (its default forkserver executor);
- on the clone, the bare-SQL floor: one statement inserting the same postings, their ledger
  lines and capitalizing their accruals, without the job (no completeness check, no account
  results, no execution rows, no Dagster).

Both results are compared (count and sums of every posting column), then printed as a table.

    INTEREST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python benchmarks/bench_posting.py --accounts 1000000

Everything that executes runs under the __main__ guard: step processes re-import this module.
"""

import argparse
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import dagster as dg
import psycopg
from bench_support import database, postgres_instance
from sqlalchemy.engine import URL

from interest_pipeline.accrual.sql import JOB_TYPE as ACCRUAL_JOB_TYPE
from interest_pipeline.accrual.sql import accrue_chunk
from interest_pipeline.batch.config import BatchRunConfig, load_job_config, merge_config
from interest_pipeline.batch.lifecycle import finish_batch, run_chunk, start_batch
from interest_pipeline.data.generate import generate_book
from interest_pipeline.db import migrate
from interest_pipeline.posting.job import reconstructable_posting_job
from interest_pipeline.posting.lifecycle import post_business_date, unknown_run
from interest_pipeline.posting.sql import DUE_PREDICATE, JOB_TYPE, plan_chunks
from interest_pipeline.resources.database import DatabaseResource
from interest_pipeline.resources.ledger import PostgresLedgerResource
from interest_pipeline.settings import DATABASE_URL_ENV, libpq_url, load_settings, sqlalchemy_url

START = date(2025, 1, 1)
DAYS = 31
POSTING_DATE = date(2025, 1, 31)

# One row per account and night of January it is open, on its first snapshot's balance.
MONTH_OF_ACCRUALS = """
INSERT INTO interest_accruals (account_id, accrual_date, balance, amount, status, execution_id)
SELECT a.id, d::date, b.closing_balance, round_half_even(b.closing_balance * 2 / 36500, 10),
       'ACCRUED', 'bench'
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

# The floor: the same postings, journals and capitalization by three set-based statements per
# chunk (the job's own id ranges, one transaction each, as many at once as the job's
# parallel_threads) and nothing else: no completeness check, no account results or status, no
# execution row, no Dagster. Whole-book statements were tried first and are no floor here: one
# statement with data-modifying CTEs, and the three statements over the whole book (even with
# work_mem raised to 1GB so the aggregate is hashed), both still ran after 12 minutes at 1M
# accounts (the three took 31 s at 200k), while the chunked job takes a few minutes.
# Accounts that ended (matured, closed) in January before P owe their final posting, dated the
# day they ended: the book has no posting runs before P, so the job makes those late, and the floor
# must make them too.
FLOOR_POSTINGS = f"""
WITH due AS (
    SELECT a.id, a.currency, c.minor_units, p.withholding_tax_rate, d.post_date,
           (a.maturity_date = d.post_date OR a.closed_on = d.post_date) IS TRUE AS is_final
      FROM accounts a
      JOIN interest_products p ON p.code = a.product_code
      JOIN currencies c ON c.code = a.currency
     CROSS JOIN LATERAL (
           SELECT CASE WHEN least(a.closed_on, a.maturity_date) < %(business_date)s::date
                       THEN least(a.closed_on, a.maturity_date)
                       ELSE %(business_date)s::date END AS post_date) d
     WHERE a.id BETWEEN %(first_id)s AND %(last_id)s
       AND (least(a.closed_on, a.maturity_date) < %(business_date)s::date OR {DUE_PREDICATE})
),
pending AS (
    SELECT ia.account_id, sum(ia.amount) AS accrued, count(*) AS n, min(ia.accrual_date) AS first_date,
           max(ia.accrual_date) AS last_date
      FROM interest_accruals ia
      JOIN due ON due.id = ia.account_id
     WHERE ia.account_id BETWEEN %(first_id)s AND %(last_id)s
       AND ia.status = 'ACCRUED' AND ia.accrual_date <= due.post_date
     GROUP BY ia.account_id
),
amounts AS (
    SELECT due.*, coalesce(prev.carry_out, 0) AS carry_in, pending.*,
           round_half_even(coalesce(prev.carry_out, 0) + pending.accrued, due.minor_units) AS gross
      FROM due
      JOIN pending ON pending.account_id = due.id
      LEFT JOIN LATERAL (SELECT carry_out FROM interest_postings ip
                          WHERE ip.account_id = due.id AND ip.posting_date < due.post_date
                          ORDER BY ip.posting_date DESC, ip.id DESC LIMIT 1) prev ON true
)
INSERT INTO interest_postings (account_id, posting_date, idempotency_key, currency, carry_in, accrued,
    gross, carry_out, tax, net, withholding_tax_rate, is_final, written_off, accrual_count,
    first_accrual_date, last_accrual_date, execution_id, made_on)
SELECT id, post_date, 'INT-CAP-' || id || to_char(post_date, '-YYYY-MM'), currency, carry_in, accrued,
       gross, carry_in + accrued - gross, tax, gross - tax, withholding_tax_rate, is_final,
       CASE WHEN is_final THEN carry_in + accrued - gross ELSE 0 END, n, first_date, last_date, 'floor',
       %(business_date)s::date
  FROM amounts
 CROSS JOIN LATERAL (SELECT round_half_even(gross * withholding_tax_rate * 0.01, minor_units) AS tax) t
ON CONFLICT (idempotency_key) DO NOTHING
"""

FLOOR_JOURNALS = """
INSERT INTO ledger_entries (journal_key, line_no, gl_account, account_id, debit, credit, currency, value_date)
SELECT p.idempotency_key, l.line_no, l.gl_account, CASE WHEN l.line_no = 2 THEN p.account_id END,
       CASE WHEN l.line_no = 1 THEN p.gross ELSE 0 END,
       CASE l.line_no WHEN 2 THEN p.net WHEN 3 THEN p.tax ELSE 0 END, p.currency, p.posting_date
  FROM interest_postings p
 CROSS JOIN (VALUES (1, 'INTEREST_EXPENSE'), (2, 'CUSTOMER_DEPOSITS'), (3, 'WITHHOLDING_TAX_PAYABLE'))
       AS l (line_no, gl_account)
 WHERE p.execution_id = 'floor' AND p.account_id BETWEEN %(first_id)s AND %(last_id)s AND p.gross > 0
   AND CASE l.line_no WHEN 2 THEN p.net > 0 WHEN 3 THEN p.tax > 0 ELSE true END
"""

FLOOR_CAPITALIZE = """
UPDATE interest_accruals ia
   SET status = 'CAPITALIZED', capitalization_date = p.posting_date, posting_id = p.id, updated_at = now()
  FROM interest_postings p
 WHERE p.execution_id = 'floor' AND p.account_id BETWEEN %(first_id)s AND %(last_id)s
   AND ia.account_id = p.account_id AND ia.status = 'ACCRUED'
   AND ia.accrual_date <= p.posting_date
"""

# What the month-end run made (made_on = P: its own postings and any it made late), both ways.
FINGERPRINT = f"""
WITH made AS (SELECT * FROM interest_postings WHERE made_on = '{POSTING_DATE}')
SELECT count(*), sum(gross), sum(tax), sum(net), sum(carry_out), sum(written_off), sum(accrual_count),
       count(*) FILTER (WHERE is_final),
       (SELECT count(*) FROM ledger_entries WHERE journal_key IN (SELECT idempotency_key FROM made)),
       (SELECT sum(debit) FROM ledger_entries WHERE journal_key IN (SELECT idempotency_key FROM made)),
       (SELECT count(*) FROM interest_accruals WHERE posting_id IN (SELECT id FROM made))
  FROM made
"""


def timed(label: str, started: float) -> float:
    seconds = time.perf_counter() - started
    print(f"  {label}: {seconds:.1f} s", flush=True)
    return seconds


def accrue_and_post_the_month(url: URL) -> int:
    """January as production makes it: each date accrued by the accrual job's lifecycle (chunks two
    at a time, as its parallel_threads), and posted by the posting job's, except the month end."""
    os.environ[DATABASE_URL_ENV] = url.render_as_string(hide_password=False)
    load_settings()  # this process reads its settings once: again, for the database just set
    database = DatabaseResource()
    ledger = PostgresLedgerResource()
    with ThreadPoolExecutor(max_workers=2) as pool:
        for n in range(DAYS):
            d = START + timedelta(days=n)
            run_id = f"bench-accrual-{d}"
            tasks = start_batch(
                database,
                job_type=ACCRUAL_JOB_TYPE,
                run_id=run_id,
                business_date=d,
                trigger="BACKFILL",
                run_config=BatchRunConfig(),
                run_state=unknown_run,
            )
            list(pool.map(lambda task: run_chunk(database, task, accrue_chunk), tasks))
            finish_batch(database, run_id)
            if d < POSTING_DATE:
                post_business_date(database, d, ledger, run_id=f"bench-posting-{d}")
    with psycopg.connect(libpq_url(url)) as conn:
        row = conn.execute("SELECT count(*) FROM interest_accruals").fetchone()
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
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")
    return rows


def run_job(url: URL, dagster_url: URL) -> tuple[float, tuple[object, ...]]:
    os.environ[DATABASE_URL_ENV] = url.render_as_string(hide_password=False)
    load_settings()  # this process reads its settings once: again, for the database just set
    with postgres_instance(dagster_url) as instance:
        started = time.perf_counter()
        result = dg.execute_job(
            dg.reconstructable(reconstructable_posting_job),
            instance=instance,
            tags={"dagster/partition": POSTING_DATE.isoformat()},
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
        seconds = timed("posting job", started)
    if not result.success:
        raise SystemExit(f"posting run {result.run_id} failed")
    with psycopg.connect(libpq_url(url)) as conn:
        chunks, status = conn.execute(
            "SELECT total_chunks, status FROM interest_batch_execution WHERE id = %s", (result.run_id,)
        ).fetchone()  # type: ignore[misc]
        print(f"  {chunks} chunks, execution {status}", flush=True)
        return seconds, tuple(conn.execute(FINGERPRINT).fetchone() or ())


def run_floor(url: URL) -> tuple[float, tuple[object, ...]]:
    with psycopg.connect(libpq_url(url)) as conn:
        config = merge_config(load_job_config(conn, JOB_TYPE), BatchRunConfig())
        chunks = plan_chunks(conn, POSTING_DATE, config)
    pending = list(chunks)
    lock = threading.Lock()
    counts = [0, 0, 0]

    def worker() -> None:
        with psycopg.connect(libpq_url(url)) as conn:
            while True:
                with lock:
                    if not pending:
                        return
                    chunk = pending.pop(0)
                params = {
                    "business_date": POSTING_DATE,
                    "first_id": chunk.first_id,
                    "last_id": chunk.last_id,
                }
                done = (
                    conn.execute(FLOOR_POSTINGS, params).rowcount,
                    conn.execute(FLOOR_JOURNALS, params).rowcount,
                    conn.execute(FLOOR_CAPITALIZE, params).rowcount,
                )
                conn.commit()
                with lock:
                    for i, n in enumerate(done):
                        counts[i] += n

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(config.parallel_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = timed(
        f"bare-SQL floor, {len(chunks)} chunks, {config.parallel_threads} at once "
        f"({counts[0]:,} postings, {counts[1]:,} lines, {counts[2]:,} capitalized)",
        started,
    )
    with psycopg.connect(libpq_url(url)) as conn:
        return seconds, tuple(conn.execute(FINGERPRINT).fetchone() or ())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--book", choices=["production", "direct"], default="production")
    args = parser.parse_args()
    configured = os.environ.get(DATABASE_URL_ENV)
    if not configured:
        raise SystemExit(f"set {DATABASE_URL_ENV}: the benchmark creates its databases on that server")
    server = sqlalchemy_url(configured)
    tag = uuid.uuid4().hex[:6]
    with database(server, f"bench_posting_{tag}") as url:
        rows = prepare(url, args.accounts, args.book)
        assert url.database is not None
        with (
            database(server, f"bench_posting_floor_{tag}", template=url.database) as floor_url,
            database(server, f"bench_posting_dagster_{tag}") as dagster_url,
        ):
            job_seconds, job_result = run_job(url, dagster_url)
            floor_seconds, floor_result = run_floor(floor_url)
    if job_result != floor_result:
        raise SystemExit(f"job and floor disagree:\n  job   {job_result}\n  floor {floor_result}")
    postings = job_result[0]
    print(
        f"\nsame result both ways: {postings:,} postings, {job_result[8]:,} ledger lines, "
        f"{job_result[10]:,} accruals capitalized (of {rows:,})"
    )
    print("\n| accounts | postings | what | wall | postings/s |\n| ---: | ---: | --- | ---: | ---: |")
    for label, seconds in (("job (forkserver executor)", job_seconds), ("bare-SQL floor", floor_seconds)):
        print(f"| {args.accounts:,} | {postings:,} | {label} | {seconds:.1f} s | {postings / seconds:,.0f} |")  # type: ignore[operator]
    print(f"\njob / floor = {job_seconds / floor_seconds:.2f}")


if __name__ == "__main__":
    main()

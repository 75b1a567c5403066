"""What the benchmark scripts share: their databases, a PostgreSQL-backed Dagster instance, and a
book's dates made as production makes them (accrued and posted through the jobs' own lifecycles),
with the posting job and its bare-SQL floor measured on them (bench_posting, bench_history)."""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
from psycopg import sql
from sqlalchemy import create_engine
from sqlalchemy.engine import URL

from interest_pipeline.accrual.sql import JOB_TYPE as ACCRUAL_JOB_TYPE
from interest_pipeline.accrual.sql import OUTCOME_CTES, accrue_chunk, chunk_parameters
from interest_pipeline.api.app import ApiService
from interest_pipeline.api.auth import Principal
from interest_pipeline.api.dagster_runs import GraphQLDagsterRuns
from interest_pipeline.batch.chunks import MAX_ID, MIN_ID
from interest_pipeline.batch.config import BatchRunConfig, load_job_config, merge_config
from interest_pipeline.batch.lifecycle import finish_batch, run_chunk, start_batch, tune_chunk_transaction
from interest_pipeline.db.capitalization import (
    lock_out_accrual_writers,
    pending_rows,
    posting_rows,
    previous_posting,
)
from interest_pipeline.domain.enums import AccountType, values
from interest_pipeline.posting.job import reconstructable_posting_job
from interest_pipeline.posting.lifecycle import post_business_date, unknown_run
from interest_pipeline.posting.sql import DUE_PREDICATE, KEY_BY_MONTH, plan_chunks, posting_key
from interest_pipeline.posting.sql import JOB_TYPE as POSTING_JOB_TYPE
from interest_pipeline.resources.database import DatabaseResource
from interest_pipeline.resources.ledger import PostgresLedgerResource
from interest_pipeline.settings import (
    DATABASE_URL_ENV,
    libpq_url,
    load_settings,
    sqlalchemy_url,
    with_database,
)


@contextmanager
def database(server: URL, name: str, template: str | None = None) -> Iterator[URL]:
    """A new database `name` on `server` (a copy of `template` when given), dropped afterwards."""
    admin = libpq_url(server.set(database="postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if template:
            # PostgreSQL 15's default strategy (WAL_LOG) writes the whole copy through the WAL: a
            # 13 GB book made 13 GB of WAL and a run of forced checkpoints that went on into the
            # runs timed next. FILE_COPY copies the files (checkpoints before and after).
            strategy = sql.SQL(" STRATEGY FILE_COPY" if conn.info.server_version >= 150000 else "")
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}{}").format(
                    sql.Identifier(name), sql.Identifier(template), strategy
                )
            )
        else:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_database(server, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def postgres_instance(dagster_url: URL) -> Iterator[dg.DagsterInstance]:
    """A Dagster instance whose run and event storage is `dagster_url`, as in production.

    Its home is a temporary folder named by DAGSTER_HOME, so step processes load the same one.
    """
    with tempfile.TemporaryDirectory() as home:
        Path(home, "dagster.yaml").write_text(
            "storage:\n  postgres:\n    postgres_url:\n      env: BENCH_DAGSTER_PG_URL\n"
            "telemetry:\n  enabled: false\n"
        )
        os.environ["DAGSTER_HOME"] = home
        os.environ["BENCH_DAGSTER_PG_URL"] = sqlalchemy_url(dagster_url, "psycopg2").render_as_string(
            hide_password=False
        )
        with dg.DagsterInstance.get() as instance:
            yield instance


# --- a book's dates as production makes them (bench_posting --book production, bench_history) ----


def timed(label: str, started: float) -> float:
    seconds = time.perf_counter() - started
    print(f"  {label}: {seconds:.1f} s", flush=True)
    return seconds


def point_at(url: URL) -> None:
    """Make `url` this process's application database (and that of the step processes it starts)."""
    os.environ[DATABASE_URL_ENV] = url.render_as_string(hide_password=False)
    load_settings()  # this process reads its settings once: again, for the database just set


def checkpoint(url: URL) -> None:
    """Every dirty page on the server written before what is timed next: each timed run starts from
    the same quiet server, not from the writes of the one before it or of a clone."""
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def settle(url: URL) -> None:
    """Statistics fresh and dirty pages written, so what is timed next starts from a quiet database."""
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")


def accrue_date(database: DatabaseResource, business_date: date) -> None:
    """One date accrued by the accrual job's own lifecycle and chunk statement (its account results,
    statuses and execution row), chunks two at a time, as its parallel_threads."""
    run_id = f"bench-accrual-{business_date}"
    tasks = start_batch(
        database,
        job_type=ACCRUAL_JOB_TYPE,
        run_id=run_id,
        business_date=business_date,
        trigger="BACKFILL",
        run_config=BatchRunConfig(),
        run_state=unknown_run,
    )
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda task: run_chunk(database, task, accrue_chunk), tasks))
    finish_batch(database, run_id)


def post_date(database: DatabaseResource, ledger: PostgresLedgerResource, business_date: date) -> str:
    """One date posted by the posting job's own lifecycle: the accounts due on it (month ends,
    maturities, closures), with its account results and execution row; that row's id."""
    run_id = f"bench-posting-{business_date}"
    post_business_date(database, business_date, ledger, run_id=run_id)
    return run_id


# The posting floor: the same postings and journals by two set-based statements per chunk, which
# capitalize as the job's do (the postings' write_seq, after the same lock; db/capitalization.py),
# on the job's own id ranges, one transaction each, as many at once as the job's parallel_threads,
# and nothing else: no completeness check, no account results or status, no execution row, no
# Dagster. Whole-book statements were tried first and are no floor here: one statement with
# data-modifying CTEs, and the statements over the whole book (even with work_mem raised to 1GB so
# the aggregate is hashed), both still ran after 12 minutes at 1M accounts (they took 31 s at 200k),
# while the chunked job takes a few minutes.
# Accounts that ended (matured, closed) before P and still hold pending interest owe their final
# posting, dated the day they ended: when no posting run made it on that day (bench_posting's
# `--book direct`), the job makes it late, and the floor must make it too.
PENDING_OF_DUE = pending_rows("due.id", "due.post_date", "prev.posting_date", "prev.write_seq")
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
amounts AS (
    SELECT due.*, coalesce(prev.carry_out, 0) AS carry_in, pending.*,
           round_half_even(coalesce(prev.carry_out, 0) + pending.accrued, due.minor_units) AS gross
      FROM due
      LEFT JOIN LATERAL ({previous_posting("due.id", "due.post_date")}) prev ON true
     CROSS JOIN LATERAL (
           SELECT sum(x.amount) AS accrued, count(*) AS n, min(x.accrual_date) AS first_date,
                  max(x.accrual_date) AS last_date
             FROM ({PENDING_OF_DUE}) x) pending
     WHERE pending.n > 0
)
INSERT INTO interest_postings (account_id, posting_date, idempotency_key, currency, carry_in, accrued,
    gross, carry_out, tax, net, withholding_tax_rate, is_final, written_off, accrual_count,
    first_accrual_date, last_accrual_date, execution_id, made_on, write_seq)
SELECT id, post_date, {posting_key("id", "post_date")}, currency, carry_in, accrued,
       gross, carry_in + accrued - gross, tax, gross - tax, withholding_tax_rate, is_final,
       CASE WHEN is_final THEN carry_in + accrued - gross ELSE 0 END, n, first_date, last_date, 'floor',
       %(business_date)s::date, %(write_seq)s
  FROM amounts
 CROSS JOIN LATERAL (SELECT round_half_even(gross * withholding_tax_rate * 0.01, minor_units) AS tax) t
ON CONFLICT ({KEY_BY_MONTH}) DO NOTHING
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

# What the run of P made (made_on = P: its own postings and any it made late), both ways.
POSTING_FINGERPRINT = f"""
WITH made AS (SELECT * FROM interest_postings WHERE made_on = %(posting_date)s)
SELECT count(*), sum(gross), sum(tax), sum(net), sum(carry_out), sum(written_off), sum(accrual_count),
       count(*) FILTER (WHERE is_final),
       (SELECT count(*) FROM ledger_entries WHERE journal_key IN (SELECT idempotency_key FROM made)),
       (SELECT sum(debit) FROM ledger_entries WHERE journal_key IN (SELECT idempotency_key FROM made)),
       (SELECT count(*) FROM made m CROSS JOIN LATERAL ({posting_rows("m")}) x)
  FROM made
"""


def posting_fingerprint(url: URL, posting_date: date) -> tuple[object, ...]:
    with psycopg.connect(libpq_url(url)) as conn:
        return tuple(conn.execute(POSTING_FINGERPRINT, {"posting_date": posting_date}).fetchone() or ())


def run_job(
    url: URL,
    instance: dg.DagsterInstance,
    job: Callable[[], dg.JobDefinition],
    business_date: date,
    what: str,
) -> tuple[float, str]:
    """`business_date` run by the real job `job` points at (its default executor) on `instance`:
    the seconds and the run id (its execution's id)."""
    point_at(url)
    started = time.perf_counter()
    started_at = time.time()
    result = dg.execute_job(
        dg.reconstructable(job),
        instance=instance,
        tags={"dagster/partition": business_date.isoformat()},
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )
    ended_at = time.time()
    seconds = timed(what, started)
    if not result.success:
        raise SystemExit(f"{what} run {result.run_id} failed")
    print(f"  {what} by phase: {phases(instance, result.run_id, started_at, ended_at)}", flush=True)
    with psycopg.connect(libpq_url(url)) as conn:
        chunks, status = conn.execute(
            "SELECT total_chunks, status FROM interest_batch_execution WHERE id = %s", (result.run_id,)
        ).fetchone()  # type: ignore[misc]
    print(f"  {chunks} chunks, execution {status}", flush=True)
    return seconds, result.run_id


def phases(instance: dg.DagsterInstance, run_id: str, started_at: float, ended_at: float) -> str:
    """Where a run's wall time went, from its own event log: launch (the call to the first step's
    start: process, forkserver, instance), plan, chunks (the first chunk's start to the last one's
    end), close, and what is left after the close (the run's end, the call's return)."""
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None or record.step_key is None:
            continue
        if event.event_type_value not in ("STEP_START", "STEP_SUCCESS", "STEP_FAILURE"):
            continue
        kind = record.step_key.split("[")[0]
        first[kind] = min(first.get(kind, record.timestamp), record.timestamp)
        last[kind] = max(last.get(kind, record.timestamp), record.timestamp)
    kinds = sorted(first, key=first.__getitem__)
    if not kinds:
        return "no step events"
    marks = [f"launch {first[kinds[0]] - started_at:.1f} s"]
    marks += [f"{k} {last[k] - first[k]:.1f} s" for k in kinds]
    marks.append(f"after {ended_at - last[kinds[-1]]:.1f} s")
    return ", ".join(marks)


def run_posting_job(
    url: URL, instance: dg.DagsterInstance, posting_date: date
) -> tuple[float, tuple[object, ...], str]:
    """P posted by the real `interest_posting` job (its default executor) on `instance`: the seconds,
    the fingerprint of what it made and its run id (its execution's id)."""
    seconds, run_id = run_job(url, instance, reconstructable_posting_job, posting_date, "posting job")
    return seconds, posting_fingerprint(url, posting_date), run_id


def run_posting_floor(url: URL, posting_date: date) -> tuple[float, tuple[object, ...]]:
    """P's postings, journals and capitalization by the floor statements, on the job's chunks."""
    with psycopg.connect(libpq_url(url)) as conn:
        config = merge_config(load_job_config(conn, POSTING_JOB_TYPE), BatchRunConfig())
        chunks = plan_chunks(conn, posting_date, config)
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
                # the chunk transaction's settings, as the job's (no JIT: with history its
                # estimates grow and JIT compiling took seconds of the statement the job never pays)
                tune_chunk_transaction(conn)
                params = {
                    "business_date": posting_date,
                    "first_id": chunk.first_id,
                    "last_id": chunk.last_id,
                    "write_seq": lock_out_accrual_writers(conn),
                }
                posted = conn.execute(FLOOR_POSTINGS + " RETURNING accrual_count", params).fetchall()
                done = (len(posted), conn.execute(FLOOR_JOURNALS, params).rowcount, sum(n for (n,) in posted))
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
    return seconds, posting_fingerprint(url, posting_date)


# The accrual job's floor: only the accrual rows, from the job's own outcome CTEs, nothing else
# recorded (no results, statuses, executions, removals). bench_accrual, bench_history.
BARE_ACCRUAL = f"""
WITH {OUTCOME_CTES}
INSERT INTO interest_accrual_entries (account_id, accrual_date, balance, amount, execution_id, write_seq)
SELECT o.account_id, %(business_date)s::date, o.balance, o.amount, %(execution_id)s,
       (SELECT nextval('interest_write_seq'))
  FROM outcome o WHERE o.outcome = 'SUCCESS'
"""


def run_bare_accrual(url: URL, business_date: date) -> tuple[float, int]:
    """BARE_ACCRUAL for the whole book, every account type, dormant excluded: seconds and rows."""
    parameters = chunk_parameters(
        execution_id="bare",
        business_date=business_date,
        first_id=MIN_ID,
        last_id=MAX_ID,
        account_types=values(AccountType),
        include_dormant=False,
        account_ids=None,
    )
    with psycopg.connect(libpq_url(url)) as conn:
        started = time.perf_counter()
        rows = conn.execute(BARE_ACCRUAL, parameters).rowcount
        conn.commit()
        return time.perf_counter() - started, rows


def child_result(script: str, *arguments: str) -> Any:
    """`script` re-run in a process of its own with `arguments` and `--result-file F`: what the child
    wrote to F, as JSON. The benchmarks measure apart what a long-lived process would distort (a
    forkserver keeps the environment it started with; a grown heap slows every API call)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as result:
        subprocess.run([sys.executable, script, *arguments, "--result-file", result.name], check=True)
        with open(result.name) as f:
            return json.load(f)


def median_ms(call: Callable[[], Any], calls: int) -> float:
    """The median of `calls` calls, in ms, after one to warm the pool and statement caches."""
    call()
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


@contextmanager
def api_queries(url: URL) -> Iterator[Callable[[str], Callable[[], Any]]]:
    """A maker of calls of one GraphQL query at the API's server (ApiService.execute: its GraphQL
    execution and SQL, no HTTP), as a `user`, on the database `url`. Queries that ask for no
    dagsterRunUrl never reach Dagster's GraphQL."""
    engine = create_engine(url, pool_size=2)
    try:
        service = ApiService(engine=engine, dagster=GraphQLDagsterRuns("http://127.0.0.1:3000/graphql"))
        who = Principal(name="bench", role="user")

        def run(query: str) -> Callable[[], Any]:
            def call() -> Any:
                result = service.execute(who, {"query": query})
                assert "errors" not in result, result
                return result

            return call

        yield run
    finally:
        engine.dispose()

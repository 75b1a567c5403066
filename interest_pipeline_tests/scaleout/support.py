"""What the scale-out tests share: the broker check, real `interest-pipeline worker` processes,
a January book made the way production makes it, job runs through the real CLI, and read-outs.

Every process started here is its own session (process group), so stopping it reaches the
Celery pool processes too: SIGTERM (warm shutdown), then SIGKILL if it has not exited.
"""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from dagster._serdes import deserialize_value
from psycopg import sql
from sqlalchemy.engine import URL

from interest_pipeline import settings
from interest_pipeline.accrual.sql import JOB_TYPE as ACCRUAL
from interest_pipeline.accrual.sql import accrue_chunk
from interest_pipeline.batch.config import BatchRunConfig
from interest_pipeline.batch.lifecycle import finish_batch, run_chunk, start_batch
from interest_pipeline.data.generate import generate_book
from interest_pipeline.db import admin
from interest_pipeline.posting import sql as posting_sql
from interest_pipeline.posting.lifecycle import post_business_date, unknown_run
from interest_pipeline.resources.database import DatabaseResource
from interest_pipeline.resources.ledger import PostgresLedgerResource
from interest_pipeline.settings import libpq_url, with_database
from interest_pipeline_tests.posting.support import POSTING_COLUMNS
from interest_pipeline_tests.support.database import fresh_database, test_server_url

CLI = str(Path(sys.executable).with_name("interest-pipeline"))
POSTING = posting_sql.JOB_TYPE
START = date(2025, 1, 1)
MONTH_END = date(2025, 1, 31)
# Variables of the surrounding shell that would point a child at another instance or executor.
_INHERITED_OUT = (
    "DAGSTER_HOME",
    settings.DAGSTER_PG_URL_ENV,
    settings.DAGSTER_DATABASE_URL_ENV,
    settings.EXECUTOR_ENV,
    settings.CELERY_QUEUE_ENV,
    "PGAPPNAME",
)


def require_broker() -> str:
    """The broker URL the settings name, or skip the calling test with why."""
    from kombu import Connection

    url = settings.celery_settings().broker
    try:
        with Connection(url, connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception as error:
        pytest.skip(
            f"no Celery broker answers at {url} ({error}); start RabbitMQ there or set "
            f"{settings.CELERY_BROKER_ENV} to run the celery executor tests"
        )
    return url


def base_env(url: URL, home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _INHERITED_OUT}
    env[settings.DATABASE_URL_ENV] = url.render_as_string(hide_password=False)
    env[settings.HOME_ENV] = str(home)
    env.update(extra)
    return env


@dataclass
class Worker:
    """One `interest-pipeline worker` process (and its pool), named `name@<host>`."""

    name: str
    env: Mapping[str, str]
    log: Path
    concurrency: int = 1
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self, queue: str) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    CLI,
                    "worker",
                    "--concurrency",
                    str(self.concurrency),
                    "--queue",
                    queue,
                    "--name",
                    f"{self.name}@%h",
                ],
                env={**self.env, "PGAPPNAME": self.name},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(
                    f"worker {self.name} exited {self.process.returncode}:\n{self.log.read_text()}"
                )
            if " ready." in self.log.read_text(errors="replace"):
                return
            time.sleep(0.2)
        raise AssertionError(f"worker {self.name} not ready after {timeout} s:\n{self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL the worker and its pool at once, as a host that loses power."""
        assert self.process is not None
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            self._reap()
            return
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self._reap()

    def _reap(self) -> None:
        """Pool processes outlive a parent killed alone: end whatever is left of the group."""
        if self.process is not None:
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)


@contextmanager
def workers(
    env: Mapping[str, str], names: list[str], logs: Path, concurrency: int = 1
) -> Iterator[list[Worker]]:
    """Started together on one fresh queue (so nothing left by another test session reaches them)."""
    queue = f"ip-test-{uuid.uuid4().hex[:10]}"
    # Created before the workers start, as a deployment names it (INTEREST_DAGSTER_DATABASE_URL).
    app = settings.sqlalchemy_url(env[settings.DATABASE_URL_ENV])
    admin.ensure_database(app.set(database=f"{app.database}_dagster"))
    started = [
        Worker(n, {**env, settings.CELERY_QUEUE_ENV: queue}, logs / f"{n}.log", concurrency) for n in names
    ]
    try:
        for w in started:
            w.start(queue)
        for w in started:
            w.wait_ready()
        yield started
    finally:
        for w in started:
            w.stop()


def celery_env(env: Mapping[str, str], pool: list[Worker]) -> dict[str, str]:
    """The environment of a run on the celery executor whose steps go to `pool`'s queue."""
    return {
        **env,
        settings.EXECUTOR_ENV: "celery",
        settings.CELERY_QUEUE_ENV: pool[0].env[settings.CELERY_QUEUE_ENV],
    }


def cli(env: Mapping[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], env=dict(env), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def cli_ok(env: Mapping[str, str], *args: str, timeout: float = 300) -> str:
    done = cli(env, *args, timeout=timeout)
    assert done.returncode == 0, f"{args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


# --- books and databases ---------------------------------------------------------------------


def set_job_config(url: URL, *, batch_size: int | None = None, parallel_threads: int | None = None) -> None:
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        if batch_size is not None:
            conn.execute("UPDATE interest_batch_config SET batch_size = %s", (batch_size,))
        if parallel_threads is not None:
            conn.execute("UPDATE interest_batch_config SET parallel_threads = %s", (parallel_threads,))


def january_to_the_30th(url: URL, accounts: int, seed: int = 11) -> None:
    """A generated book with January 1-30 accrued and posted by the jobs' own lifecycle and SQL,
    so that the 31st, a month end, is left for the real jobs (bench_posting's production book)."""
    with psycopg.connect(libpq_url(url)) as conn:
        generate_book(conn, accounts=accounts, start=START, days=31, seed=seed)
    database = DatabaseResource(url=url.render_as_string(hide_password=False))
    ledger = PostgresLedgerResource()
    for n in range((MONTH_END - START).days):
        d = START + timedelta(days=n)
        run_id = f"prep-accrual-{d}"
        tasks = start_batch(
            database,
            job_type=ACCRUAL,
            run_id=run_id,
            business_date=d,
            trigger="BACKFILL",
            run_config=BatchRunConfig(),
            run_state=unknown_run,
        )
        for task in tasks:
            run_chunk(database, task, accrue_chunk)
        finish_batch(database, run_id)
        post_business_date(database, d, ledger, run_id=f"prep-posting-{d}")


@contextmanager
def database_copy(template: URL, prefix: str) -> Iterator[URL]:
    """A copy of `template` (CREATE DATABASE ... TEMPLATE), dropped with its Dagster storage afterwards."""
    server = test_server_url()
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = libpq_url(server.set(database=server.database or "postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template.database)
            )
        )
    try:
        yield with_database(server, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            for database in (name, f"{name}_dagster"):
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
                )


@contextmanager
def january_book(accounts: int, batch_size: int) -> Iterator[URL]:
    """The template the tests copy: January 1-30 done, chunks of `batch_size` accounts."""
    with fresh_database(prefix="ip_scaleout") as url:
        set_job_config(url, batch_size=batch_size)
        january_to_the_30th(url, accounts)
        yield url


# --- read-outs -------------------------------------------------------------------------------


def accruals(url: URL, d: date | None = None) -> list[tuple[object, ...]]:
    """Every accrual row but its run-specific ids, with the posting it went into by key."""
    with psycopg.connect(libpq_url(url)) as conn:
        return conn.execute(
            "SELECT a.account_id, a.accrual_date, a.balance, a.amount, a.status, p.idempotency_key"
            "  FROM interest_accruals a LEFT JOIN interest_postings p ON p.id = a.posting_id"
            " WHERE %(d)s::date IS NULL OR a.accrual_date = %(d)s"
            " ORDER BY a.account_id, a.accrual_date",
            {"d": d},
        ).fetchall()


def postings(url: URL) -> list[tuple[object, ...]]:
    with psycopg.connect(libpq_url(url)) as conn:
        return conn.execute(
            f"SELECT {POSTING_COLUMNS} FROM interest_postings ORDER BY idempotency_key"
        ).fetchall()


def ledger(url: URL) -> list[tuple[object, ...]]:
    with psycopg.connect(libpq_url(url)) as conn:
        return conn.execute(
            "SELECT journal_key, line_no, gl_account, account_id, debit, credit, currency, value_date"
            " FROM ledger_entries ORDER BY journal_key, line_no"
        ).fetchall()


def account_results(url: URL, execution_id: str) -> list[tuple[object, ...]]:
    with psycopg.connect(libpq_url(url)) as conn:
        return conn.execute(
            "SELECT account_id, status, amount, reason FROM interest_batch_account_result"
            " WHERE execution_id = %s ORDER BY account_id",
            (execution_id,),
        ).fetchall()


@dataclass(frozen=True)
class Execution:
    id: str
    status: str
    total_chunks: int
    accounts_processed: int
    accounts_succeeded: int
    totals: object


def execution(url: URL, job_type: str, d: date) -> Execution:
    """The latest execution of `job_type` for `d`."""
    with psycopg.connect(libpq_url(url)) as conn:
        row = conn.execute(
            "SELECT id, status, total_chunks, accounts_processed, accounts_succeeded, totals_by_currency"
            "  FROM interest_batch_execution WHERE job_type = %s AND business_date = %s"
            " ORDER BY started_at DESC LIMIT 1",
            (job_type, d),
        ).fetchone()
    assert row is not None, f"no {job_type} execution for {d}"
    return Execution(*row)


def step_workers(url: URL, run_id: str) -> dict[str, list[str]]:
    """Step key -> the Celery workers that started it, in order, from the run's engine events."""
    dagster = libpq_url(url.set(database=f"{url.database}_dagster"))
    with psycopg.connect(dagster) as conn:
        rows = conn.execute(
            "SELECT event FROM event_logs WHERE run_id = %s AND dagster_event_type = 'ENGINE_EVENT' ORDER BY id",
            (run_id,),
        ).fetchall()
    found: dict[str, list[str]] = {}
    for (text,) in rows:
        entry = deserialize_value(text, dg.EventLogEntry)
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        metadata = event.engine_event_data.metadata or {}
        worker = metadata.get("Celery worker")
        if worker is not None:
            found.setdefault(event.step_key, []).append(str(worker.value))
    return found


def lock_waiters(url: URL, names: list[str]) -> dict[str, int]:
    """The workers' database sessions waiting on a lock (chunks past their slot), per worker."""
    with psycopg.connect(libpq_url(url)) as conn:
        rows = conn.execute(
            "SELECT application_name, count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock' AND application_name = ANY(%s)"
            " GROUP BY application_name",
            (names,),
        ).fetchall()
    return {name: count for name, count in rows}


def chunk_step_keys(keys: object) -> list[str]:
    return sorted(k for k in keys if "_chunk[" in k)  # type: ignore[attr-defined]


def dumps(value: object) -> str:
    return json.dumps(value, default=str, indent=1)

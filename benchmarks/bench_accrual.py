"""Benchmark of the daily accrual job (not a test).

For each book size: a fresh database on INTEREST_DATABASE_URL's server, a generated book
(`interest_pipeline.data.generate`), then ONE business date accrued through the real job on a
PostgreSQL-backed Dagster instance, once per executor arrangement, each on emptied output
tables; then one bare `INSERT ... SELECT` of the same accrual rows into the emptied accruals
table. Prints wall time, accounts per second and the peak RSS of the Dagster process tree.

    INTEREST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python benchmarks/bench_accrual.py --accounts 200000 --accounts 1000000

The job runs in this process (and, for multiprocess arrangements, its step processes), which
re-import this module: everything that executes runs under the __main__ guard.
"""

import argparse
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import date

import dagster as dg
import psutil  # type: ignore[import-untyped]
import psycopg
from bench_support import database, phases, postgres_instance, run_bare_accrual
from psycopg import sql
from sqlalchemy.engine import URL

from interest_pipeline.accrual.job import build_accrual_job
from interest_pipeline.data.generate import generate_book
from interest_pipeline.db import migrate
from interest_pipeline.definitions import bound
from interest_pipeline.settings import DATABASE_URL_ENV, libpq_url, load_settings, sqlalchemy_url

START = date(2025, 1, 1)
DAYS = 31
BUSINESS_DATE = date(2025, 1, 31)
TABLE_HEAD = (
    "| accounts | what | wall | accounts/s | accrual rows | peak RSS (Dagster tree) |\n"
    "| ---: | --- | ---: | ---: | ---: | ---: |"
)
OUTPUT_TABLES = (
    "interest_accrual_entries",
    "interest_batch_account_result",
    "interest_batch_account_status",
    "interest_batch_execution",
)


# --- the arrangements measured (module level, so step processes can reconstruct them) --------


def in_process_job() -> dg.JobDefinition:
    return bound(build_accrual_job(dg.in_process_executor))


def multiprocess_job() -> dg.JobDefinition:
    return bound(build_accrual_job(dg.multiprocess_executor.configured({"max_concurrent": 2})))


def forkserver_job() -> dg.JobDefinition:
    """The job's default: forkserver with the job's modules preloaded."""
    return bound(build_accrual_job())


ARRANGEMENTS: dict[str, Callable[[], dg.JobDefinition]] = {
    "in_process": in_process_job,
    "multiprocess": multiprocess_job,
    "forkserver": forkserver_job,
}


@dataclass(frozen=True)
class Measurement:
    label: str
    accounts: int
    rows: int
    seconds: float
    peak_rss_mib: float | None

    def line(self) -> str:
        rate = self.accounts / self.seconds if self.seconds else 0.0
        rss = f"{self.peak_rss_mib:8.0f} MiB" if self.peak_rss_mib is not None else "         -"
        return (
            f"| {self.accounts:>9,} | {self.label:<32} | {self.seconds:8.1f} s | {rate:>9,.0f} | "
            f"{self.rows:>9,} | {rss} |"
        )


class TreeMemory:
    """Peak RSS of this process plus all its descendants, sampled every 250 ms.

    Each sample walks every process on the machine (psutil's children() reads /proc): at 50 ms it
    took 5 % of a core during a 1M run (py-spy), taken from the job's two PostgreSQL backends on a
    2-core machine while the bare statement it is compared with runs unsampled. A run's RSS moves
    in steps of whole step processes, which live for seconds."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        me = psutil.Process()
        total: int = me.memory_info().rss
        for child in me.children(recursive=True):
            with suppress(psutil.Error):
                total += child.memory_info().rss
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(0.25)

    def __enter__(self) -> "TreeMemory":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._sample())


def empty_outputs(url: URL) -> None:
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute(sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(map(sql.Identifier, OUTPUT_TABLES))))
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")


def run_job(
    url: URL, arrangement: str, accounts: int, instance: dg.DagsterInstance, batch_size: int | None = None
) -> Measurement:
    empty_outputs(url)
    run_config: dict[str, object] = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    if batch_size is not None:
        # a run's override of the config row, as an operator would pass it
        run_config["ops"] = {"plan_accrual": {"config": {"batch_size": batch_size}}}
    with TreeMemory() as memory:
        started = time.perf_counter()
        started_at = time.time()
        result = dg.execute_job(
            dg.reconstructable(ARRANGEMENTS[arrangement]),
            instance=instance,
            tags={"dagster/partition": BUSINESS_DATE.isoformat()},
            run_config=run_config,
        )
        seconds = time.perf_counter() - started
        ended_at = time.time()
    if not result.success:
        raise SystemExit(f"{arrangement} run {result.run_id} failed")
    print(f"  {arrangement} by phase: {phases(instance, result.run_id, started_at, ended_at)}", flush=True)
    with psycopg.connect(libpq_url(url)) as conn:
        rows, chunks, status = conn.execute(
            "SELECT (SELECT count(*) FROM interest_accrual_entries), total_chunks, status"
            " FROM interest_batch_execution WHERE id = %s",
            (result.run_id,),
        ).fetchone()  # type: ignore[misc]
    print(f"  {arrangement}: {seconds:.1f} s, {chunks} chunks, execution {status}", flush=True)
    label = f"job, {arrangement}" + (f", batch {batch_size:,}" if batch_size is not None else "")
    return Measurement(label, accounts, rows, seconds, memory.peak / 2**20)


def run_bare(url: URL, accounts: int) -> Measurement:
    empty_outputs(url)
    seconds, rows = run_bare_accrual(url, BUSINESS_DATE)
    print(f"  bare INSERT ... SELECT: {seconds:.1f} s, {rows} rows", flush=True)
    return Measurement("bare INSERT ... SELECT", accounts, rows, seconds, None)


def bench(
    server: URL, accounts: int, arrangements: list[str], dagster_url: URL, batch_sizes: list[int | None]
) -> list[Measurement]:
    name = f"bench_accrual_{accounts}_{uuid.uuid4().hex[:6]}"
    with database(server, name) as url:
        os.environ[DATABASE_URL_ENV] = url.render_as_string(hide_password=False)
        load_settings()  # this process reads its settings once: again, for the database just set
        migrate.upgrade(url)
        started = time.perf_counter()
        with psycopg.connect(libpq_url(url)) as conn:
            generate_book(conn, accounts=accounts, start=START, days=DAYS, seed=1)
        with psycopg.connect(libpq_url(url), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
            snapshots = conn.execute("SELECT count(*) FROM account_balances").fetchone()[0]  # type: ignore[index]
        print(
            f"{accounts:,} accounts, {snapshots:,} balance snapshots generated in "
            f"{time.perf_counter() - started:.0f} s",
            flush=True,
        )
        with postgres_instance(dagster_url) as instance:
            results = [
                run_job(url, arrangement, accounts, instance, batch_size)
                for arrangement in arrangements
                for batch_size in batch_sizes
            ]
        results.append(run_bare(url, accounts))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, action="append", help="book size (repeatable)")
    parser.add_argument("--arrangement", action="append", choices=sorted(ARRANGEMENTS), help="(repeatable)")
    parser.add_argument(
        "--batch-size",
        type=int,
        action="append",
        help="the run's batch_size override (repeatable; default: the config row's)",
    )
    args = parser.parse_args()
    configured = os.environ.get(DATABASE_URL_ENV)
    if not configured:
        raise SystemExit(f"set {DATABASE_URL_ENV}: the benchmark creates its databases on that server")
    server = sqlalchemy_url(configured)
    sizes = args.accounts or [200_000, 1_000_000]
    arrangements = args.arrangement or ["forkserver"]
    if len(sizes) > 1:
        # One process per size: a forkserver keeps the environment (INTEREST_DATABASE_URL) it
        # started with, so a second book in the same process would send steps to the first.
        lines = []
        for accounts in sizes:
            command = [sys.executable, __file__, "--accounts", str(accounts)]
            for arrangement in arrangements:
                command += ["--arrangement", arrangement]
            for batch_size in args.batch_size or []:
                command += ["--batch-size", str(batch_size)]
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            print(output.split("\n| accounts")[0], flush=True)
            lines += [line for line in output.splitlines() if line.startswith("| ") and "---" not in line][1:]
        print("\n" + TABLE_HEAD)
        print("\n".join(lines))
        return
    dagster_db = f"bench_accrual_dagster_{uuid.uuid4().hex[:6]}"
    with database(server, dagster_db) as dagster_url:
        measurements = bench(server, sizes[0], arrangements, dagster_url, args.batch_size or [None])
    print("\n" + TABLE_HEAD)
    for m in measurements:
        print(m.line())


if __name__ == "__main__":
    main()

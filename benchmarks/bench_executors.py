"""Benchmark of one accrual date on the celery executor (two local workers) against the default (not a test).

A fresh database on INTEREST_DATABASE_URL's server gets a generated book
(`interest_pipeline.data.generate`, --accounts, default 1,000,000), then in ONE run of the script,
each on emptied output tables: the real `daily_interest_accrual` job for 2025-01-31 on the
default executor (forkserver), then on the celery executor with two `interest-pipeline worker`
processes (one step process each, as the config row's parallel_threads is 2) on a queue of its
own of the local broker (INTEREST_CELERY_BROKER, default RabbitMQ on 127.0.0.1), then the floor:
one bare `INSERT ... SELECT` of the same accrual rows (bench_accrual.run_bare). Both job runs
must write the same rows (count and sum of amounts), or the script fails.

    INTEREST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python benchmarks/bench_executors.py --accounts 1000000

`--batch-size N` sets the accrual config row's chunk size first (a small book in several chunks).

Each job run is launched from a child process of this script (`--run EXECUTOR`), with
INTEREST_EXECUTOR set, so it takes the job exactly as production does (the executor is chosen
when the job module is imported).
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import psycopg
from bench_accrual import BUSINESS_DATE, DAYS, START, Measurement, empty_outputs, run_bare
from bench_support import database
from sqlalchemy.engine import URL

from interest_pipeline.data.generate import generate_book
from interest_pipeline.db import migrate
from interest_pipeline.settings import (
    CELERY_QUEUE_ENV,
    DAGSTER_DATABASE_URL_ENV,
    DATABASE_URL_ENV,
    EXECUTOR_ENV,
    libpq_url,
    sqlalchemy_url,
)

CLI = str(Path(sys.executable).with_name("interest-pipeline"))
WORKERS = ("bench-worker-a", "bench-worker-b")
TABLE_HEAD = "| accounts | what | wall | accounts/s | accrual rows |\n| ---: | --- | ---: | ---: | ---: |"


def run_in_child(executor: str) -> None:
    """`--run EXECUTOR`: one accrual run of BUSINESS_DATE on the instance in DAGSTER_HOME; prints JSON."""
    import dagster as dg

    from interest_pipeline.accrual.job import reconstructable_accrual_job
    from interest_pipeline.launch import configured_instance

    assert os.environ[EXECUTOR_ENV] == executor
    instance = configured_instance()
    started = time.perf_counter()
    result = dg.execute_job(
        dg.reconstructable(reconstructable_accrual_job),
        instance=instance,
        tags={"dagster/partition": BUSINESS_DATE.isoformat()},
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )
    seconds = time.perf_counter() - started
    print(json.dumps({"run_id": result.run_id, "success": result.success, "seconds": seconds}))


@contextmanager
def local_workers(env: dict[str, str], logs: Path) -> Iterator[None]:
    """Two `interest-pipeline worker` processes, each its own process group, stopped afterwards."""
    processes = []
    try:
        for name in WORKERS:
            log = (logs / f"{name}.log").open("wb")
            processes.append(
                (
                    subprocess.Popen(
                        [CLI, "worker", "--concurrency", "1", "--name", f"{name}@%h"],
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                        start_new_session=True,
                    ),
                    logs / f"{name}.log",
                )
            )
        deadline = time.monotonic() + 120
        for process, log_path in processes:
            while " ready." not in log_path.read_text(errors="replace"):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"worker did not start:\n{log_path.read_text()}")
                time.sleep(0.2)
        yield
    finally:
        for process, _ in processes:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process, _ in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)


def fingerprint(url: URL, run_id: str) -> tuple[object, ...]:
    with psycopg.connect(libpq_url(url)) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM interest_accrual_entries),"
            " (SELECT sum(amount) FROM interest_accrual_entries),"
            " total_chunks, status FROM interest_batch_execution WHERE id = %s",
            (run_id,),
        ).fetchone()
    assert row is not None, f"no execution {run_id}"
    return tuple(row)


def run_job(
    url: URL, accounts: int, executor: str, env: dict[str, str]
) -> tuple[Measurement, tuple[object, ...]]:
    empty_outputs(url)
    done = subprocess.run(
        [sys.executable, __file__, "--run", executor],
        env={**env, EXECUTOR_ENV: executor},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{executor} run failed:\n{done.stdout}\n{done.stderr}")
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    if not outcome["success"]:
        raise SystemExit(f"{executor} run {outcome['run_id']} failed:\n{done.stderr}")
    rows, total, chunks, status = fingerprint(url, outcome["run_id"])
    print(f"  {executor}: {outcome['seconds']:.1f} s, {chunks} chunks, execution {status}", flush=True)
    label = "job, celery (2 workers)" if executor == "celery" else f"job, {executor}"
    return Measurement(label, accounts, int(rows), outcome["seconds"], None), (rows, total, status)  # type: ignore[call-overload]


def bench(server: URL, accounts: int, home: Path, batch_size: int | None) -> list[Measurement]:
    tag = uuid.uuid4().hex[:6]
    with (
        database(server, f"bench_executors_{tag}") as url,
        database(server, f"bench_executors_{tag}_dagster") as dagster,
    ):
        migrate.upgrade(url)
        started = time.perf_counter()
        with psycopg.connect(libpq_url(url)) as conn:
            generate_book(conn, accounts=accounts, start=START, days=DAYS, seed=1)
        with psycopg.connect(libpq_url(url), autocommit=True) as conn:
            if batch_size is not None:
                conn.execute(
                    "UPDATE interest_batch_config SET batch_size = %s WHERE job_type = %s",
                    (batch_size, "daily_interest_accrual"),
                )
            conn.execute("VACUUM ANALYZE")
        print(f"{accounts:,} accounts generated in {time.perf_counter() - started:.0f} s", flush=True)
        env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "INTEREST_DAGSTER_PG_URL")}
        env.update(
            {
                DATABASE_URL_ENV: url.render_as_string(hide_password=False),
                DAGSTER_DATABASE_URL_ENV: dagster.render_as_string(hide_password=False),
                "INTEREST_PIPELINE_HOME": str(home),
                CELERY_QUEUE_ENV: f"bench-{tag}",
            }
        )
        default, default_result = run_job(url, accounts, "forkserver", env)
        with local_workers(env, home):
            celery, celery_result = run_job(url, accounts, "celery", env)
        if celery_result != default_result:
            raise SystemExit(f"executors disagree: forkserver {default_result}, celery {celery_result}")
        print(f"  same rows both ways: {default_result[0]:,} accruals, sum {default_result[1]}", flush=True)
        return [default, celery, run_bare(url, accounts)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument(
        "--batch-size", type=int, default=None, help="accounts per chunk (default: the config row's, 50,000)"
    )
    parser.add_argument("--run", choices=["forkserver", "celery"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        run_in_child(args.run)
        return
    configured = os.environ.get(DATABASE_URL_ENV)
    if not configured:
        raise SystemExit(f"set {DATABASE_URL_ENV}: the benchmark creates its databases on that server")
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bench_executors_") as home:
        measurements = bench(sqlalchemy_url(configured), args.accounts, Path(home), args.batch_size)
    print("\n" + TABLE_HEAD)
    for m in measurements:
        print(m.line().rsplit("|", 2)[0] + "|")


if __name__ == "__main__":
    main()

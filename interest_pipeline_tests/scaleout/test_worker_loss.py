"""Chunks on Celery workers while the test holds the accruals table: how many run at once
(parallel_threads, whatever the workers' capacity), and a worker SIGKILLed mid-chunk.

Holding `LOCK TABLE interest_accruals IN EXCLUSIVE MODE` from the test stops every chunk at its
first write, after it took its chunk slot (batch.lifecycle.acquire_slot) and inside its one
transaction; the workers' sessions are told apart by application_name (PGAPPNAME = worker name).
Each test gets its own copy of the book and its own two workers, since one of them is killed.
"""

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import URL

from interest_pipeline.settings import libpq_url
from interest_pipeline_tests.scaleout import support
from interest_pipeline_tests.scaleout.support import ACCRUAL, CLI, MONTH_END, Worker

# One xdist process builds this module's book and named workers once (--dist loadgroup): split
# over two, both would start workers of the same names, which RabbitMQ refuses (pidbox queue).
pytestmark = pytest.mark.xdist_group("celery-worker-loss")

ACCOUNTS = 400
# 12 chunks (of 33-34 accounts): a multiple of both 2 and 3 parallel threads, so the reference run
# (2) and a run with 3 make the same chunks (batch.chunks.chunk_of_row)
BATCH_SIZE = 34
DATE = MONTH_END.isoformat()
# Unique per session: a worker's node name owns an exclusive pidbox queue on the broker, which a
# second session (or a fixture set up again by xdist) starting the same name would be refused.
_SESSION = uuid.uuid4().hex[:8]
NAMES = [f"ip-loss-a-{_SESSION}", f"ip-loss-b-{_SESSION}"]


@pytest.fixture(scope="module")
def book() -> Iterator[URL]:
    support.require_broker()
    with support.january_book(ACCOUNTS, BATCH_SIZE) as url:
        yield url


@pytest.fixture(scope="module")
def reference(book: URL, tmp_path_factory: pytest.TempPathFactory) -> Iterator[URL]:
    """The 31st accrued on the default executor, undisturbed."""
    with support.database_copy(book, "ip_loss_reference") as url:
        support.cli_ok(
            support.base_env(url, tmp_path_factory.mktemp("reference_home")), "accrue", "--date", DATE
        )
        yield url


@pytest.fixture
def celery_db(book: URL) -> Iterator[URL]:
    with support.database_copy(book, "ip_loss_celery") as url:
        yield url


@pytest.fixture
def start_pool(
    celery_db: URL, tmp_path: Path
) -> Iterator[Callable[[int], tuple[list[Worker], dict[str, str]]]]:
    env = support.base_env(celery_db, tmp_path / "home")
    stack: list[object] = []

    def start(concurrency: int) -> tuple[list[Worker], dict[str, str]]:
        context = support.workers(env, NAMES, tmp_path, concurrency=concurrency)
        pool = context.__enter__()
        stack.append(context)
        return pool, support.celery_env(env, pool)

    yield start
    for context in stack:
        context.__exit__(None, None, None)  # type: ignore[attr-defined]


@pytest.fixture
def held_accruals(celery_db: URL) -> Iterator[psycopg.Connection]:
    """The accruals table locked against writes until the test rolls this connection back."""
    with psycopg.connect(libpq_url(celery_db)) as conn:
        conn.execute("LOCK TABLE interest_accruals IN EXCLUSIVE MODE")
        yield conn
        conn.rollback()


def launch_accrual(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [CLI, "accrue", "--date", DATE],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def wait_for(what: str, check: Callable[[], object], timeout: float = 120) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def running_execution(url: URL) -> str | None:
    with psycopg.connect(libpq_url(url)) as conn:
        row = conn.execute(
            "SELECT id FROM interest_batch_execution WHERE job_type = %s AND business_date = %s AND status = 'RUNNING'",
            (ACCRUAL, MONTH_END),
        ).fetchone()
    return row[0] if row else None


def finish(run: subprocess.Popen[bytes], log: Path, timeout: float = 240) -> None:
    try:
        run.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(run.pid, signal.SIGKILL)  # the run and any step process it started
        run.wait()
        raise AssertionError(f"the run did not finish in {timeout} s:\n{log.read_text()}") from None
    assert run.returncode == 0, log.read_text()


def assert_exactly_the_reference(celery_db: URL, reference: URL) -> None:
    expected = support.execution(reference, ACCRUAL, MONTH_END)
    got = support.execution(celery_db, ACCRUAL, MONTH_END)
    assert got.status == "SUCCESS"
    assert (got.total_chunks, got.accounts_processed, got.accounts_succeeded, got.totals) == (
        expected.total_chunks,
        expected.accounts_processed,
        expected.accounts_succeeded,
        expected.totals,
    )
    assert support.accruals(celery_db, MONTH_END) == support.accruals(reference, MONTH_END)
    results = support.account_results(celery_db, got.id)
    assert len(results) == len({r[0] for r in results}) == expected.accounts_processed  # none twice
    assert [r[:3] for r in results] == [r[:3] for r in support.account_results(reference, expected.id)]


class TestChunksAtOnce:
    def test_parallel_threads_bounds_the_chunks_in_their_transaction_not_the_workers_capacity(
        self,
        celery_db: URL,
        reference: URL,
        start_pool: Callable[[int], tuple[list[Worker], dict[str, str]]],
        held_accruals: psycopg.Connection,
        tmp_path: Path,
    ) -> None:
        support.set_job_config(celery_db, parallel_threads=3)
        _, env = start_pool(2)  # four worker processes for three slots
        run = launch_accrual(env, tmp_path / "run.log")
        run_id = str(wait_for("the execution", lambda: running_execution(celery_db)))
        wait_for(
            "four chunk steps on the workers",
            lambda: len(support.chunk_step_keys(support.step_workers(celery_db, run_id))) >= 4,
        )
        wait_for(
            "three chunks at the lock", lambda: sum(support.lock_waiters(celery_db, NAMES).values()) >= 3
        )
        seen = []
        for _ in range(10):  # and never a fourth, though a fourth step process is running
            seen.append(sum(support.lock_waiters(celery_db, NAMES).values()))
            time.sleep(0.2)
        assert max(seen) == 3, seen
        assert len(support.chunk_step_keys(support.step_workers(celery_db, run_id))) == 4
        held_accruals.rollback()
        finish(run, tmp_path / "run.log")
        assert_exactly_the_reference(celery_db, reference)


class TestWorkerLoss:
    def test_a_chunk_whose_worker_is_sigkilled_is_redelivered_and_every_accrual_is_exact_once(
        self,
        celery_db: URL,
        reference: URL,
        start_pool: Callable[[int], tuple[list[Worker], dict[str, str]]],
        held_accruals: psycopg.Connection,
        tmp_path: Path,
    ) -> None:
        support.set_job_config(celery_db, parallel_threads=2)
        (victim, survivor), env = start_pool(1)
        run = launch_accrual(env, tmp_path / "run.log")
        run_id = str(wait_for("the execution", lambda: running_execution(celery_db)))
        wait_for(
            "a chunk of each worker inside its transaction",
            lambda: support.lock_waiters(celery_db, NAMES) == {victim.name: 1, survivor.name: 1},
        )
        started = support.step_workers(celery_db, run_id)
        # the plan step ran on a worker too; the victim holds exactly one chunk step now
        [held] = [k for k in support.chunk_step_keys(started) if started[k][-1].startswith(f"{victim.name}@")]
        victim.kill()
        held_accruals.rollback()
        finish(run, tmp_path / "run.log")
        assert_exactly_the_reference(celery_db, reference)
        # the killed worker's chunk was run again, by the other worker, from the broker
        workers = support.step_workers(celery_db, run_id)[held]
        assert [w.split("@")[0] for w in workers] == [victim.name, survivor.name]

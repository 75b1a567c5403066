"""Accrual and month-end posting on the celery executor with two real workers over the real broker:
the same rows as the default executor's, to the last digit, and chunks executed by both workers.

One January book (1-30 made by the jobs' own SQL) is copied twice: the default (forkserver)
executor runs the 31st on one copy, the celery executor and its workers on the other.
"""

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import URL

from interest_pipeline_tests.scaleout import support
from interest_pipeline_tests.scaleout.support import ACCRUAL, MONTH_END, POSTING

# One xdist process builds this module's book and named workers once (--dist loadgroup): split
# over two, both would start workers of the same names, which RabbitMQ refuses (pidbox queue).
pytestmark = pytest.mark.xdist_group("celery-executor")

ACCOUNTS = 300
BATCH_SIZE = 40
DATE = MONTH_END.isoformat()


@pytest.fixture(scope="module")
def book() -> Iterator[URL]:
    support.require_broker()
    with support.january_book(ACCOUNTS, BATCH_SIZE) as url:
        yield url


@pytest.fixture(scope="module")
def default_run(book: URL, tmp_path_factory: pytest.TempPathFactory) -> Iterator[URL]:
    """The 31st accrued and posted on the default executor, through the CLI."""
    with support.database_copy(book, "ip_scaleout_default") as url:
        env = support.base_env(url, tmp_path_factory.mktemp("default_home"))
        support.cli_ok(env, "accrue", "--date", DATE)
        support.cli_ok(env, "post", "--date", DATE)
        yield url


@pytest.fixture(scope="module")
def celery_db(book: URL) -> Iterator[URL]:
    with support.database_copy(book, "ip_scaleout_celery") as url:
        yield url


@pytest.fixture(scope="module")
def celery_env(celery_db: URL, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    env = support.base_env(celery_db, tmp_path_factory.mktemp("celery_home"))
    # fresh node names each time: a name owns an exclusive pidbox queue on the broker, and xdist
    # may set a module fixture up again while the broker still holds the last one's
    names = [f"ip-worker-{w}-{uuid.uuid4().hex[:8]}" for w in "ab"]
    with support.workers(env, names, tmp_path_factory.mktemp("logs")) as pool:
        yield support.celery_env(env, pool)


@pytest.fixture(scope="module")
def celery_run(celery_db: URL, celery_env: dict[str, str]) -> URL:
    support.cli_ok(celery_env, "accrue", "--date", DATE)
    support.cli_ok(celery_env, "post", "--date", DATE)
    return celery_db


class TestCeleryExecutor:
    def test_accruals_postings_and_ledger_equal_the_default_executors_to_the_last_digit(
        self, default_run: URL, celery_run: URL
    ) -> None:
        default_accruals = support.accruals(default_run)
        month_end = [a for a in default_accruals if a[1] == MONTH_END]
        assert len(month_end) > ACCOUNTS // 2  # the 31st was accrued, for most of the book
        assert {a[4] for a in month_end} == {"ACCRUED", "CAPITALIZED"}  # monthly products were posted
        assert support.accruals(celery_run) == default_accruals
        default_postings = support.postings(default_run)
        assert [p for p in default_postings if p[1] == MONTH_END]  # month-end postings were made
        assert support.postings(celery_run) == default_postings
        default_ledger = support.ledger(default_run)
        assert default_ledger
        assert support.ledger(celery_run) == default_ledger

    @pytest.mark.parametrize("job_type", [ACCRUAL, POSTING])
    def test_executions_equal_the_default_executors(
        self, default_run: URL, celery_run: URL, job_type: str
    ) -> None:
        default = support.execution(default_run, job_type, MONTH_END)
        celery = support.execution(celery_run, job_type, MONTH_END)
        assert (celery.status, default.status) == ("SUCCESS", "SUCCESS")
        assert celery.total_chunks == default.total_chunks >= 3
        assert (celery.accounts_processed, celery.accounts_succeeded, celery.totals) == (
            default.accounts_processed,
            default.accounts_succeeded,
            default.totals,
        )
        assert [r[:3] for r in support.account_results(celery_run, celery.id)] == [
            r[:3] for r in support.account_results(default_run, default.id)
        ]

    @pytest.mark.parametrize("job_type", [ACCRUAL, POSTING])
    def test_chunks_ran_on_both_workers(self, celery_run: URL, job_type: str) -> None:
        run = support.execution(celery_run, job_type, MONTH_END)
        by_step = support.step_workers(celery_run, run.id)
        chunks = support.chunk_step_keys(by_step)
        assert len(chunks) == run.total_chunks
        # every step of the run went through a worker, each once (nothing redelivered here)
        assert all(len(names) == 1 for names in by_step.values()), support.dumps(by_step)
        hosts = {by_step[k][0].split("@")[0] for k in chunks}
        assert len(hosts) == 2 and all(h.startswith("ip-worker-") for h in hosts), support.dumps(by_step)

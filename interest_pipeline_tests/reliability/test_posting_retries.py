"""A posting chunk whose connection is terminated mid-chunk is retried and posts exactly once."""

import threading

import dagster as dg
import psycopg
import pytest
from sqlalchemy.engine import URL

from interest_pipeline.settings import libpq_url
from interest_pipeline_tests.posting.support import (
    Book,
    db_ledger,
    db_postings,
    oracle_ledger,
    oracle_postings,
)
from interest_pipeline_tests.posting.test_job import JAN_1, JAN_31, january_book, post
from interest_pipeline_tests.reliability.conftest import set_config
from interest_pipeline_tests.support.blocking import TableLock


@pytest.fixture
def posting_book(conn: psycopg.Connection) -> Book:
    return january_book(conn, 6)


class TestPostingChunkRetry:
    def test_a_terminated_connection_mid_posting_is_retried_and_every_amount_is_exact(
        self, posting_book: Book, conn: psycopg.Connection, clean_db: URL
    ) -> None:
        set_config(conn, "interest_posting", max_retries=2, retry_interval_seconds=0)
        # The ledger is written by the chunk after its postings (planning never reads it): the chunk
        # waits there, mid-transaction, and what it wrote before rolls back with it.
        lock = TableLock(libpq_url(clean_db), "ledger_entries").hold()
        try:
            outcome: dict[str, dg.ExecuteInProcessResult] = {}
            instance = dg.DagsterInstance.ephemeral()
            runner = threading.Thread(target=lambda: outcome.setdefault("result", post(JAN_31, instance)))
            runner.start()
            lock.terminate(lock.waiting_backend())
        finally:
            lock.release()
        runner.join(timeout=120)
        result = outcome["result"]
        assert result.success
        retries = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
        assert [e.step_key for e in retries] == ["post_chunk[chunk_00000]"]
        oracle = posting_book.simulate(JAN_1, JAN_31)
        assert db_postings(conn) == oracle_postings(oracle)
        assert db_ledger(conn) == oracle_ledger(oracle)
        status = conn.execute(
            "SELECT status, accounts_succeeded FROM interest_batch_execution WHERE id = %s", (result.run_id,)
        ).fetchone()
        assert status == ("SUCCESS", 6)

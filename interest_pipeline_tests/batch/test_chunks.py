"""Chunk planning: id ranges of batch_size accounts covering every account, failed chunks first."""

import psycopg
import pytest

from interest_pipeline.batch.chunks import MAX_ID, MIN_ID, Chunk, plan_chunks
from interest_pipeline.batch.config import BatchRunConfig, load_job_config, merge_config
from interest_pipeline_tests.accrual.book import Book


def _config(conn: psycopg.Connection, **run: object) -> object:
    return merge_config(load_job_config(conn, "daily_interest_accrual"), BatchRunConfig(**run))  # type: ignore[arg-type]


@pytest.fixture
def ten_accounts(book: Book) -> Book:
    book.product("P")
    for account_id in (3, 5, 8, 13, 21, 34, 55, 89, 144, 233):
        book.account(account_id, "P")
    return book


class TestPlanChunks:
    def test_ranges_of_batch_size_accounts_with_open_ends(self, ten_accounts: Book) -> None:
        chunks = plan_chunks(ten_accounts.conn, _config(ten_accounts.conn, batch_size=4))  # type: ignore[arg-type]
        assert chunks == [
            Chunk(0, MIN_ID, 20, 4),
            Chunk(1, 21, 143, 4),
            Chunk(2, 144, MAX_ID, 2),
        ]

    def test_account_ids_restrict_the_chunks(self, ten_accounts: Book) -> None:
        chunks = plan_chunks(
            ten_accounts.conn, _config(ten_accounts.conn, batch_size=2, account_ids=[5, 89, 233])
        )  # type: ignore[arg-type]
        assert [(c.first_id, c.last_id, c.accounts) for c in chunks] == [(MIN_ID, 232, 2), (233, MAX_ID, 1)]

    def test_empty_book_still_has_one_chunk(self, book: Book) -> None:
        assert plan_chunks(book.conn, _config(book.conn)) == [Chunk(0, MIN_ID, MAX_ID, 0)]  # type: ignore[arg-type]

    def test_chunks_with_failed_accounts_come_first(self, ten_accounts: Book) -> None:
        ten_accounts.conn.execute(
            "INSERT INTO interest_batch_account_status (account_id, job_type, last_business_date, last_status,"
            " last_execution_id, first_business_date)"
            " VALUES (144, 'daily_interest_accrual', '2025-01-01', 'FAILED', 'r', '2025-01-01'),"
            " (8, 'daily_interest_accrual', '2025-01-01', 'FAILED', 'r', '2025-01-01'),"
            " (34, 'interest_posting', '2025-01-01', 'FAILED', 'r', '2025-01-01')"
        )
        chunks = plan_chunks(
            ten_accounts.conn,
            _config(ten_accounts.conn, batch_size=4, process_failed_accounts_first=True),  # type: ignore[arg-type]
        )
        assert [(c.index, c.has_failed_accounts) for c in chunks] == [(0, True), (2, True), (1, False)]

"""Chunk planning: id ranges of at most batch_size accounts covering every account, shared out evenly
over a multiple of parallel_threads chunks, failed chunks first."""

from dataclasses import replace
from itertools import pairwise

import psycopg
import pytest

from interest_pipeline.batch.chunks import MAX_ID, MIN_ID, MIN_SPLIT_ACCOUNTS, Chunk, plan_chunks
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
    def test_even_ranges_of_at_most_batch_size_accounts_with_open_ends(self, ten_accounts: Book) -> None:
        # 10 accounts need 3 chunks of at most 4; the default row's 2 parallel threads make it 4
        # chunks of 2-3, two full rounds, instead of 4, 4 and a 2 that runs alone
        config = _config(ten_accounts.conn, batch_size=4)
        assert config.parallel_threads == 2  # type: ignore[attr-defined]
        assert plan_chunks(ten_accounts.conn, config) == [  # type: ignore[arg-type]
            Chunk(0, MIN_ID, 12, 3),
            Chunk(1, 13, 33, 2),
            Chunk(2, 34, 143, 3),
            Chunk(3, 144, MAX_ID, 2),
        ]

    def test_one_thread_takes_as_few_chunks_as_batch_size_allows(self, ten_accounts: Book) -> None:
        config = replace(_config(ten_accounts.conn, batch_size=4), parallel_threads=1)  # type: ignore[type-var]
        chunks = plan_chunks(ten_accounts.conn, config)  # type: ignore[arg-type]
        assert [(c.first_id, c.last_id, c.accounts) for c in chunks] == [
            (MIN_ID, 20, 4),
            (21, 88, 3),
            (89, MAX_ID, 3),
        ]

    @pytest.mark.parametrize(
        ("batch_size", "threads", "sizes"), [(10, 2, [10]), (9, 2, [5, 5]), (3, 3, [2, 2, 1, 2, 2, 1])]
    )
    def test_a_book_within_one_batch_is_one_chunk_and_more_is_a_multiple_of_the_threads(
        self, ten_accounts: Book, batch_size: int, threads: int, sizes: list[int]
    ) -> None:
        config = replace(_config(ten_accounts.conn, batch_size=batch_size), parallel_threads=threads)  # type: ignore[type-var]
        chunks = plan_chunks(ten_accounts.conn, config)  # type: ignore[arg-type]
        assert [c.accounts for c in chunks] == sizes
        assert chunks[0].first_id == MIN_ID and chunks[-1].last_id == MAX_ID
        assert all(a.last_id + 1 == b.first_id for a, b in pairwise(chunks))

    @pytest.mark.parametrize(
        ("accounts", "threads", "sizes"),
        [
            # the default row's 250,000 and 2 threads: a book within one batch still uses both
            (2 * MIN_SPLIT_ACCOUNTS + 1, 2, [25_001, 25_000]),
            # three threads but only two chunks of at least MIN_SPLIT_ACCOUNTS
            (2 * MIN_SPLIT_ACCOUNTS + 1, 3, [25_001, 25_000]),
            # under twice the minimum: one chunk, as for the quickstart's book
            (2 * MIN_SPLIT_ACCOUNTS - 1, 2, [49_999]),
        ],
    )
    def test_a_book_within_one_batch_is_split_over_the_threads_when_big_enough(
        self, book: Book, accounts: int, threads: int, sizes: list[int]
    ) -> None:
        book.product("P")
        book.conn.execute(
            "INSERT INTO accounts (id, account_number, product_code, currency, status, opened_on)"
            " SELECT i, 'ACC-' || i, 'P', 'USD', 'ACTIVE', '2020-01-01' FROM generate_series(1, %s) i",
            (accounts,),
        )
        config = replace(_config(book.conn), parallel_threads=threads)  # type: ignore[type-var]
        assert config.batch_size == 250_000  # type: ignore[attr-defined]
        chunks = plan_chunks(book.conn, config)  # type: ignore[arg-type]
        assert [c.accounts for c in chunks] == sizes
        assert [c.first_id for c in chunks] == [MIN_ID, *(1 + sum(sizes[:i]) for i in range(1, len(sizes)))]
        assert chunks[-1].last_id == MAX_ID

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
        # accounts 8 and 144 are in the first and last of the four chunks
        assert [(c.index, c.has_failed_accounts) for c in chunks] == [
            (0, True),
            (3, True),
            (1, False),
            (2, False),
        ]

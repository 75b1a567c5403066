"""Account chunks: contiguous account id ranges of at most `batch_size` accounts, one transaction each."""

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import date

import psycopg

from interest_pipeline.batch.config import EffectiveConfig

# Open ends of the first and last chunk, so accounts created between planning and running are
# still inside some chunk.
MIN_ID = -(2**63)
MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class Chunk:
    """Accounts with first_id <= id <= last_id (both inclusive)."""

    index: int
    first_id: int
    last_id: int
    accounts: int
    has_failed_accounts: bool = False

    @property
    def mapping_key(self) -> str:
        return f"chunk_{self.index:05d}"


@dataclass(frozen=True)
class ChunkTask:
    """Everything a mapped step needs to process its chunk; small and picklable."""

    execution_id: str
    business_date: date
    config: EffectiveConfig
    chunk: Chunk


# The fewest accounts a chunk of a book within one batch is split down to, so that such a book
# still uses parallel_threads: below it a second chunk step's start (~0.1-0.2 s, more on the
# multiprocess and Celery executors) buys less than the core it frees.
MIN_SPLIT_ACCOUNTS = 25_000


def chunk_of_row(id_column: str) -> str:
    """SQL: the 0-based chunk of each row of the query, its rows taken in `id_column` order; binds
    %(batch_size)s and %(parallel_threads)s. Its window count holds every row until the last is
    read: plan_chunks, over the whole book, counts its rows and their chunks once instead and lets
    them stream (1M accounts: 0.52-0.57 s -> 0.43-0.47 s).

    As few chunks as batch_size allows, rounded up to a multiple of parallel_threads when there is
    more than one, and the rows shared out evenly between them: each chunk holds at most
    batch_size accounts, and every round of chunks running at once is a full round of equal ones.
    Cut by batch_size alone, a 1M-account month end's 458,554 candidates made nine chunks of 50,000
    and one of 8,554 that ran alone on one core; at 250,000 they made chunks of 250,000 and 208,554,
    one core idle for the last sixth of the chunks' time. Now: ten of ~45,900, or two of ~229,300.

    A book within one batch is split too, into up to parallel_threads chunks of at least
    MIN_SPLIT_ACCOUNTS: at the default batch_size of 250,000 a 200,000-account book was one chunk
    on one core while the other idled. Books under twice that stay one chunk.
    """
    position, total = f"row_number() OVER (ORDER BY {id_column}) - 1", "count(*) OVER ()"
    return f"(({position}) * ({chunk_count(total)})) / ({total})"


def chunk_count(total: str) -> str:
    """SQL: how many chunks `total` rows make (chunk_of_row's rule); binds %(batch_size)s and
    %(parallel_threads)s."""
    batch, threads = "%(batch_size)s", "%(parallel_threads)s"
    return (
        f"CASE WHEN {total} <= {batch} THEN greatest(1, least({threads}, {total} / {MIN_SPLIT_ACCOUNTS}))"
        f" ELSE (({total} + {batch} - 1) / {batch} + {threads} - 1) / {threads} * {threads} END"
    )


def plan_chunks(conn: psycopg.Connection, config: EffectiveConfig) -> list[Chunk]:
    """Chunks over the run's accounts by id (`chunk_of_row`), failed-last-time chunks first when
    configured.

    Always at least one chunk, so the graph's collecting step runs (and closes the
    execution) even when the book is empty.
    """
    in_run = "%(ids)s::bigint[] IS NULL OR id = ANY(%(ids)s::bigint[])"
    rows = conn.execute(
        f"""
        SELECT n, min(id), count(*)
          FROM (SELECT id, ((row_number() OVER (ORDER BY id) - 1) * t.chunks) / t.total AS n
                  FROM accounts,
                       (SELECT total, {chunk_count("total")} AS chunks
                          FROM (SELECT count(*) AS total FROM accounts WHERE {in_run}) c) t
                 WHERE {in_run}) numbered
         GROUP BY n ORDER BY n
        """,
        {
            "batch_size": config.batch_size,
            "parallel_threads": config.parallel_threads,
            "ids": list(config.account_ids) if config.account_ids else None,
        },
    ).fetchall()
    chunks = contiguous_chunks([(int(first), int(count)) for _, first, count in rows])
    if not config.process_failed_first or not rows:
        return chunks
    failed = _chunks_with_failed_accounts(conn, config, [c.first_id for c in chunks[1:]])
    return failed_first(chunks, failed)


def contiguous_chunks(groups: Sequence[tuple[int, int]]) -> list[Chunk]:
    """Chunks from (first account id, accounts) per group, in id order.

    The ranges are open-ended and contiguous (the first starts at MIN_ID, each ends where the
    next begins, the last at MAX_ID), so an account added after planning still falls in one.
    Always at least one chunk, so the collecting step runs even when nothing is in scope.
    """
    if not groups:
        return [Chunk(index=0, first_id=MIN_ID, last_id=MAX_ID, accounts=0)]
    starts = [first for first, _ in groups]
    return [
        Chunk(
            index=i,
            first_id=MIN_ID if i == 0 else starts[i],
            last_id=starts[i + 1] - 1 if i + 1 < len(starts) else MAX_ID,
            accounts=accounts,
        )
        for i, (_, accounts) in enumerate(groups)
    ]


def failed_first(chunks: Sequence[Chunk], failed: Collection[int]) -> list[Chunk]:
    """Chunks holding an account that failed last time go first; each group stays in id order."""
    marked = [replace(c, has_failed_accounts=c.index in failed) for c in chunks]
    return sorted(marked, key=lambda c: not c.has_failed_accounts)


def _chunks_with_failed_accounts(
    conn: psycopg.Connection, config: EffectiveConfig, boundaries: list[int]
) -> set[int]:
    # width_bucket over the chunks' lower bounds (past the first) gives each account's chunk index.
    rows = conn.execute(
        """
        SELECT DISTINCT width_bucket(account_id, %(bounds)s::bigint[])
          FROM interest_batch_account_status
         WHERE job_type = %(job_type)s AND last_status = 'FAILED'
           AND (%(ids)s::bigint[] IS NULL OR account_id = ANY(%(ids)s::bigint[]))
        """,
        {
            "bounds": boundaries,
            "job_type": config.job_type,
            "ids": list(config.account_ids) if config.account_ids else None,
        },
    ).fetchall()
    return {int(r[0]) for r in rows}

"""Set-based posting SQL (spec §3): the posting job's whole data-access layer.

One chunk of accounts is posted by a handful of statements in ONE transaction: the postings, their
ledger journals and the account results commit together or not at all. Postings are inserted with
ON CONFLICT on the idempotency key (month first, migration 0017) DO NOTHING RETURNING, and only the
returned rows are journalled, which keeps every key posted once even when two runs of the same
date race each other. A posting capitalizes its accruals by being made (its write_seq, see
db/capitalization.py): no accrual row is written.

A posting run of R first makes, in the same transaction, the postings its chunk's accounts owe
from earlier due dates (blocked then, see OWED_SQL), one pass per due date, oldest first, with
the same statements; then R's own. `waiting_postings` runs those statements in a rolled-back
transaction to say what the next run would find.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

import psycopg

from interest_pipeline.batch.chunks import (
    MAX_ID,
    MIN_ID,
    Chunk,
    ChunkTask,
    chunk_of_row,
    contiguous_chunks,
    failed_first,
)
from interest_pipeline.batch.config import EffectiveConfig
from interest_pipeline.batch.executions import (
    ChunkTotals,
    account_results_insert,
    account_results_of,
    account_status_upsert,
)
from interest_pipeline.batch.lifecycle import tune_chunk_transaction
from interest_pipeline.db.capitalization import (
    lock_out_accrual_writers,
    pending_rows,
    posting_checked_through,
    previous_posting,
)
from interest_pipeline.domain.enums import AccountType, JobType
from interest_pipeline.posting.journals import PostedChunk

# plain strs: also the Dagster job names, which Dagster would serialize an enum of by name
JOB_TYPE: str = JobType.INTEREST_POSTING.value
ACCRUAL_JOB_TYPE: str = JobType.DAILY_INTEREST_ACCRUAL.value

# Account result reasons (stable strings: reports and tests match on them).
NOTHING_TO_POST = "NOTHING_TO_POST"
ALREADY_POSTED = "ALREADY_POSTED"
INCOMPLETE_ACCRUALS = "INCOMPLETE_ACCRUALS"

CANDIDATES_TABLE = "posting_chunk_candidates"
POSTED_TABLE = "posting_chunk_posted"
OWED_TABLE = "posting_chunk_owed"


class Ledger(Protocol):
    def post_journals(self, conn: psycopg.Connection, chunk: PostedChunk) -> int: ...


@dataclass(frozen=True)
class CurrencyTotals:
    """What one currency's postings amounted to; exact Decimals."""

    accounts_posted: int
    gross: Decimal
    tax: Decimal
    net: Decimal

    def __add__(self, other: "CurrencyTotals") -> "CurrencyTotals":
        return CurrencyTotals(
            self.accounts_posted + other.accounts_posted,
            self.gross + other.gross,
            self.tax + other.tax,
            self.net + other.net,
        )


def add_totals(*parts: Mapping[str, CurrencyTotals]) -> dict[str, CurrencyTotals]:
    summed: dict[str, CurrencyTotals] = {}
    for part in parts:
        for currency, amounts in part.items():
            summed[currency] = summed[currency] + amounts if currency in summed else amounts
    return dict(sorted(summed.items()))


@dataclass(frozen=True)
class PostingChunkTotals(ChunkTotals):
    """The batch framework's chunk counts (amounts = gross per currency) plus tax and net."""

    journal_lines: int = 0
    posted: Mapping[str, CurrencyTotals] = field(default_factory=dict)
    # Postings owed from earlier due dates: made late by this chunk, and still blocked.
    late_posted: int = 0
    late_blocked: int = 0


def due_on(day: str) -> str:
    """Spec §3 "due on P", over accounts a joined with interest_products p, P being the SQL date `day`.

    P is a month's last day exactly when P + 1 is a month's first. The account ends on the earlier
    of its maturity and closure dates; the later one ends nothing and is no posting date. A period
    end after the account ended is not one of its periods: its last posting is the final one, on
    the day it ended, even when that posting is made late (see OWED_SQL).
    """
    return f"""
(
    (extract(day FROM {day} + 1) = 1
     AND coalesce({day} <= least(a.closed_on, a.maturity_date), true)
     AND CASE p.posting_frequency
        WHEN 'MONTHLY' THEN true
        WHEN 'QUARTERLY' THEN extract(month FROM {day}) IN (3, 6, 9, 12)
        WHEN 'SEMI_ANNUAL' THEN extract(month FROM {day}) IN (6, 12)
        WHEN 'ANNUAL' THEN extract(month FROM {day}) = 12
        ELSE false
    END)
    -- the final posting: the day the account ends, the earlier of maturity and closure (least()
    -- skips a NULL); the later one ends nothing
    OR least(a.closed_on, a.maturity_date) = {day}
)
"""


DUE_PREDICATE = due_on("%(business_date)s::date")

SCOPE_PREDICATE = """
p.account_type = ANY (%(account_types)s::text[])
AND (%(account_ids)s::bigint[] IS NULL OR a.id = ANY (%(account_ids)s::bigint[]))
"""

# The postings' unique key, month first (migration 0017): `ON CONFLICT` names its expressions, and
# a lookup by key gives the month too, so that it reads that index.
KEY_BY_MONTH = "right(idempotency_key, 7), idempotency_key"


def key_is(column: str, key: str) -> str:
    """SQL: the key `column` is `key`, read month first: a posting's idempotency key, or a journal's
    key (the same string, indexed the same way in ledger_entries)."""
    return f"(right({column}, 7) = right({key}, 7) AND {column} = {key})"


def posting_key(account: str, day: str) -> str:
    """SQL: the idempotency key of the posting of `account` for the date `day` (spec section 3)."""
    return f"'INT-CAP-' || {account}::text || to_char({day}, '-YYYY-MM')"


ENDED_KEY_MADE = key_is("made.idempotency_key", posting_key("a.id", "least(a.closed_on, a.maturity_date)"))
OWED_KEY_MADE = key_is("made.idempotency_key", posting_key("o.account_id", "o.due_date"))

# The rows an ended account (e) would still have to post on its last day, after its latest posting
# and its latest posting run that found nothing pending (chk).
ENDED_PENDING = pending_rows(
    "e.account_id",
    "e.due_date",
    "latest.posting_date",
    "latest.write_seq",
    checked_through="chk.checked_through",
)

# Postings owed from earlier due dates P < R (R = %(run_date)s, the run's business date), for the
# accounts of id range [%(first_id)s, %(last_id)s] in the run's scope (spec §3: "the first posting run
# after the dates are repaired includes them"). A posting is owed when no posting exists under P's
# key, none of the account's postings is dated after P (a later posting's carry already moved on),
# the account is still due on P by today's account data, and either
# - it was blocked: the latest posting result for (account, P) is FAILED, or
# - P is the day the account ended (closed or matured) and pending rows up to P remain: the final
#   posting, which no later date can stand in for (period ends after the end are not due).
# Whether its accruals are complete now is checked when it is posted, as for any due account.
OWED_SQL = f"""
WITH blocked AS MATERIALIZED (
    SELECT DISTINCT r.account_id, r.business_date AS due_date
      FROM interest_batch_account_result r
     WHERE r.job_type = '{JOB_TYPE}' AND r.status = 'FAILED'
       AND r.business_date < %(run_date)s::date
       AND r.account_id BETWEEN %(first_id)s AND %(last_id)s
),
ended AS MATERIALIZED (
    SELECT a.id AS account_id, least(a.closed_on, a.maturity_date) AS due_date
      FROM accounts a
     WHERE a.id BETWEEN %(first_id)s AND %(last_id)s
       AND least(a.closed_on, a.maturity_date) < %(run_date)s::date
       AND NOT EXISTS (
           SELECT 1 FROM interest_postings made
            WHERE {ENDED_KEY_MADE})
),
owed AS (
    SELECT b.account_id, b.due_date FROM blocked b
     WHERE (SELECT r.status FROM ({account_results_of(JOB_TYPE, "b.account_id", "b.due_date")}) r
             ORDER BY r.created_at DESC, r.execution_id DESC
             LIMIT 1) = 'FAILED'
    UNION
    SELECT e.account_id, e.due_date FROM ended e
      LEFT JOIN LATERAL (
            SELECT ip.posting_date, ip.write_seq FROM interest_postings ip
             WHERE ip.account_id = e.account_id
             ORDER BY ip.posting_date DESC, ip.id DESC LIMIT 1) latest ON true
      LEFT JOIN LATERAL ({posting_checked_through("e.account_id", "e.due_date")}) chk ON true
     WHERE EXISTS ({ENDED_PENDING})
)
SELECT o.account_id, o.due_date
  FROM owed o
  JOIN accounts a ON a.id = o.account_id
  JOIN interest_products p ON p.code = a.product_code
 -- the range again (owed is within it already): "owed" is estimated at thousands of rows where a
 -- chunk has a few at most, and without it every chunk hashed the whole accounts table (1M rows,
 -- 0.3-0.5 s of each 1M-account month-end chunk; docs/benchmarks.md)
 WHERE a.id BETWEEN %(first_id)s AND %(last_id)s
   AND {SCOPE_PREDICATE} AND {due_on("o.due_date")}
   AND NOT EXISTS (
       SELECT 1 FROM interest_postings made
        WHERE {OWED_KEY_MADE})
   AND NOT EXISTS (
       SELECT 1 FROM interest_postings later
        WHERE later.account_id = o.account_id AND later.posting_date > o.due_date)
"""

PLAN_CHUNKS_SQL = f"""
WITH owed AS MATERIALIZED ({OWED_SQL})
SELECT n, min(id), count(*), bool_or(failed_last_time)
  FROM (SELECT a.id, {chunk_of_row("a.id")} AS n,
               failed.account_id IS NOT NULL AS failed_last_time
          FROM accounts a
          JOIN interest_products p ON p.code = a.product_code
          LEFT JOIN interest_batch_account_status failed
                 ON failed.account_id = a.id AND failed.job_type = '{JOB_TYPE}'
                AND failed.last_status = 'FAILED'
         WHERE {SCOPE_PREDICATE}
           AND ({DUE_PREDICATE} OR a.id IN (SELECT account_id FROM owed))) due
 GROUP BY n
 ORDER BY n
"""


def scope_parameters(business_date: date, config: EffectiveConfig) -> dict[str, Any]:
    return {
        "business_date": business_date,
        "run_date": business_date,
        "account_types": list(config.account_types),
        "account_ids": list(config.account_ids) if config.account_ids is not None else None,
    }


def plan_chunks(conn: psycopg.Connection, business_date: date, config: EffectiveConfig) -> list[Chunk]:
    """The accounts due on P, or owing a posting of an earlier date, cut into id ranges of at most
    batch_size of them (batch.chunks.chunk_of_row).

    Unlike the accrual's plan, only those accounts count, so a day when nothing is due is one
    empty chunk rather than the whole book's. The ranges are open-ended and contiguous like the
    accrual's (the chunk statement re-applies the due rule inside its range), and chunks holding
    an account whose latest posting result FAILED go first when the config says so.
    """
    rows = conn.execute(
        PLAN_CHUNKS_SQL,
        {
            **scope_parameters(business_date, config),
            "batch_size": config.batch_size,
            "parallel_threads": config.parallel_threads,
            "first_id": MIN_ID,
            "last_id": MAX_ID,
        },
    ).fetchall()
    chunks = contiguous_chunks([(int(first), int(count)) for _, first, count, _ in rows])
    if not config.process_failed_first:
        return chunks
    return failed_first(chunks, {i for i, row in enumerate(rows) if row[3]})


CREATE_CANDIDATES_SQL = f"""
CREATE TEMP TABLE {CANDIDATES_TABLE} (
    account_id bigint PRIMARY KEY,
    account_type text NOT NULL,
    currency char(3) NOT NULL,
    minor_units integer NOT NULL,
    withholding_tax_rate numeric NOT NULL,
    is_final boolean NOT NULL,
    idempotency_key text NOT NULL,
    already_posted boolean NOT NULL,
    prev_posting_date date,
    carry_in numeric NOT NULL,
    accrued numeric,
    accrual_count integer NOT NULL,
    first_accrual_date date,
    last_accrual_date date,
    blocked_reason text
) ON COMMIT DROP
"""

# The rows a due account's posting of P takes: after its previous posting (prev) and its latest
# posting run that found nothing pending (chk).
DUE_PENDING = pending_rows(
    "due.id",
    "%(business_date)s::date",
    "prev.posting_date",
    "prev.write_seq",
    checked_through="chk.checked_through",
)

# The due accounts of the chunk (in a late pass: those owing P's posting) with what their posting
# needs: the previous posting's carry and the sum of its pending rows up to P. Postings already made
# under the key are flagged, not redone.
FILL_CANDIDATES_SQL = f"""
INSERT INTO {CANDIDATES_TABLE} (account_id, account_type, currency, minor_units, withholding_tax_rate,
    is_final, idempotency_key, already_posted, prev_posting_date, carry_in, accrued, accrual_count,
    first_accrual_date, last_accrual_date)
SELECT due.id, due.account_type, due.currency, due.minor_units, due.withholding_tax_rate, due.is_final,
       due.idempotency_key,
       -- posted under the key, or by a later posting: an account's postings are made in date order
       -- (db/capitalization.py), and a later one took what was pending up to its own date
       EXISTS (SELECT 1 FROM interest_postings done
                WHERE {key_is("done.idempotency_key", "due.idempotency_key")}
                   OR (done.account_id = due.id AND done.posting_date > %(business_date)s::date)),
       prev.posting_date, coalesce(prev.carry_out, 0),
       pending.accrued, pending.accrual_count, pending.first_date, pending.last_date
  FROM (SELECT a.id, p.account_type, a.currency, c.minor_units, p.withholding_tax_rate,
               (least(a.closed_on, a.maturity_date) = %(business_date)s::date) IS TRUE AS is_final,
               {posting_key("a.id", "%(business_date)s::date")} AS idempotency_key
          FROM accounts a
          JOIN interest_products p ON p.code = a.product_code
          JOIN currencies c ON c.code = a.currency
         WHERE a.id BETWEEN %(first_id)s AND %(last_id)s AND {SCOPE_PREDICATE} AND {DUE_PREDICATE}
           -- a late posting of P: only the accounts that owe P's posting
           AND (NOT %(owed_only)s
                OR a.id IN (SELECT o.account_id FROM {OWED_TABLE} o
                             WHERE o.due_date = %(business_date)s::date))) due
  LEFT JOIN LATERAL ({previous_posting("due.id", "%(business_date)s::date")}) prev ON true
  -- nothing pending through the date of the account's last SKIPPED posting run: its months are
  -- not read again (an account never posted, or not for months, would read all of history)
  LEFT JOIN LATERAL ({posting_checked_through("due.id", "%(business_date)s::date")}) chk ON true
  -- Per due account, by its index ranges: the work follows the due accounts, not the chunk's id
  -- range, and reads the rows pending since the previous posting, not the account's history. A
  -- range aggregate joined afterwards made a day with a few due accounts (one chunk over the whole
  -- book) sum the whole book's pending rows, and on stale statistics re-sum them per due account
  -- (minutes at 1M accounts, benchmark's production book).
  LEFT JOIN LATERAL (
        SELECT sum(x.amount) AS accrued, count(*) AS accrual_count,
               min(x.accrual_date) AS first_date, max(x.accrual_date) AS last_date
          FROM ({DUE_PENDING}) x
       ) pending ON true
"""

# Completeness (spec §3), as agreed with the accrual job: the accrual job "finished date d for
# account a" when an execution of d with status SUCCESS or PARTIAL covered a by its scope. Dates no
# unscoped finished run covered are few, so they are found per account type first and only those
# are checked against each account's range and the runs scoped to account ids.
BLOCKED_SQL = f"""
WITH cand AS (
    SELECT account_id, account_type, prev_posting_date
      FROM {CANDIDATES_TABLE}
     WHERE NOT already_posted
),
-- The first date any accrual result exists: that of the earliest accrual execution with a result
-- (an accrual execution's results are of its own date). Read off the execution rows, one per run,
-- each probed by its key: min() over the account-result log itself scanned every result ever
-- written, in every chunk (a million rows a night).
first_ever AS (
    SELECT min(e.business_date) AS d FROM interest_batch_execution e
     WHERE e.job_type = '{ACCRUAL_JOB_TYPE}'
       AND EXISTS (SELECT 1 FROM interest_batch_account_result r WHERE r.execution_id = e.id)
),
window_start AS (
    -- NULL (no accrual result at all, so nothing to check) stays NULL: greatest() would drop it
    SELECT CASE WHEN f.d IS NOT NULL THEN greatest(
               f.d, (SELECT min(coalesce(prev_posting_date + 1, '-infinity'::date)) FROM cand)) END AS d
      FROM first_ever f
),
gap AS (
    SELECT t.account_type, day::date AS gap_date
      FROM (SELECT DISTINCT account_type FROM cand) t
     CROSS JOIN generate_series((SELECT d FROM window_start), %(business_date)s::date, interval '1 day')
                AS day
     WHERE NOT EXISTS (
        SELECT 1 FROM interest_batch_execution e
         WHERE e.job_type = '{ACCRUAL_JOB_TYPE}' AND e.business_date = day::date
           AND e.status IN ('SUCCESS', 'PARTIAL') AND e.account_ids IS NULL
           AND t.account_type = ANY (e.account_types))
),
-- The account's first accrual result date, off its status row (migration 0014: the result log
-- has no per-account index, a million entries a night on random pages). No row: no result yet.
first_result AS (
    SELECT c.account_id,
           (SELECT st.first_business_date FROM interest_batch_account_status st
             WHERE st.account_id = c.account_id AND st.job_type = '{ACCRUAL_JOB_TYPE}') AS first_date
      FROM cand c
     WHERE EXISTS (SELECT 1 FROM gap g WHERE g.account_type = c.account_type
                     AND g.gap_date > coalesce(c.prev_posting_date, '-infinity'::date))
),
missing AS (
    SELECT c.account_id, g.gap_date AS day, 'missing' AS kind
      FROM cand c
      JOIN first_result f ON f.account_id = c.account_id
      JOIN gap g ON g.account_type = c.account_type
     WHERE g.gap_date >= f.first_date
       AND g.gap_date > coalesce(c.prev_posting_date, '-infinity'::date)
       AND NOT EXISTS (
           SELECT 1 FROM interest_batch_execution e
            WHERE e.job_type = '{ACCRUAL_JOB_TYPE}' AND e.business_date = g.gap_date
              AND e.status IN ('SUCCESS', 'PARTIAL') AND c.account_id = ANY (e.account_ids)
              AND c.account_type = ANY (e.account_types))
),
failed AS (
    SELECT r.account_id, r.business_date AS day, 'failed' AS kind
      FROM interest_batch_account_result r
      JOIN cand c ON c.account_id = r.account_id
      JOIN interest_batch_execution e ON e.id = r.execution_id
     WHERE r.job_type = '{ACCRUAL_JOB_TYPE}' AND r.status = 'FAILED'
       AND r.business_date <= %(business_date)s::date
       AND r.business_date > coalesce(c.prev_posting_date, '-infinity'::date)
       AND e.status IN ('SUCCESS', 'PARTIAL')
       -- only the latest finished run covering the account for that date speaks for it
       AND NOT EXISTS (
           SELECT 1 FROM interest_batch_execution later
            WHERE later.job_type = '{ACCRUAL_JOB_TYPE}' AND later.business_date = r.business_date
              AND later.status IN ('SUCCESS', 'PARTIAL')
              AND (later.account_ids IS NULL OR r.account_id = ANY (later.account_ids))
              AND c.account_type = ANY (later.account_types)
              AND (later.completed_at, later.started_at, later.id) > (e.completed_at, e.started_at, e.id))
),
numbered AS (
    SELECT account_id, kind, day,
           day - (row_number() OVER (PARTITION BY account_id, kind ORDER BY day))::integer AS island
      FROM (SELECT DISTINCT account_id, kind, day
              FROM (SELECT * FROM missing UNION ALL SELECT * FROM failed) b) d
),
islands AS (
    SELECT account_id, kind, min(day) AS lo, max(day) AS hi
      FROM numbered GROUP BY account_id, kind, island
),
per_kind AS (
    SELECT account_id, kind,
           string_agg(CASE WHEN lo = hi THEN to_char(lo, 'YYYY-MM-DD')
                           WHEN hi = lo + 1
                           THEN to_char(lo, 'YYYY-MM-DD') || ', ' || to_char(hi, 'YYYY-MM-DD')
                           ELSE to_char(lo, 'YYYY-MM-DD') || '..' || to_char(hi, 'YYYY-MM-DD') END,
                      ', ' ORDER BY lo) AS days
      FROM islands GROUP BY account_id, kind
),
reasons AS (
    SELECT account_id,
           '{INCOMPLETE_ACCRUALS}: ' || string_agg(kind || ' ' || days, '; ' ORDER BY kind DESC) AS reason
      FROM per_kind GROUP BY account_id
)
UPDATE {CANDIDATES_TABLE} c SET blocked_reason = reasons.reason
  FROM reasons
 WHERE reasons.account_id = c.account_id
"""

CREATE_POSTED_SQL = f"""
CREATE TEMP TABLE {POSTED_TABLE} (
    posting_id bigint PRIMARY KEY,
    account_id bigint NOT NULL,
    idempotency_key text NOT NULL,
    currency char(3) NOT NULL,
    gross numeric NOT NULL,
    tax numeric NOT NULL,
    net numeric NOT NULL,
    accrued numeric NOT NULL,
    accrual_count integer NOT NULL
) ON COMMIT DROP
"""

# Tax is gross * rate * 0.01 rather than / 100: numeric division may round, multiplication never does.
INSERT_POSTINGS_SQL = f"""
WITH inserted AS (
    INSERT INTO interest_postings (account_id, posting_date, idempotency_key, currency, carry_in, accrued,
        gross, carry_out, tax, net, withholding_tax_rate, is_final, written_off, accrual_count,
        first_accrual_date, last_accrual_date, execution_id, made_on, write_seq)
    SELECT c.account_id, %(business_date)s::date, c.idempotency_key, c.currency, c.carry_in, c.accrued,
           amounts.gross, c.carry_in + c.accrued - amounts.gross, amounts.tax, amounts.gross - amounts.tax,
           c.withholding_tax_rate, c.is_final,
           CASE WHEN c.is_final THEN c.carry_in + c.accrued - amounts.gross ELSE 0 END,
           c.accrual_count, c.first_accrual_date, c.last_accrual_date, %(execution_id)s,
           %(run_date)s::date, %(write_seq)s
      FROM {CANDIDATES_TABLE} c
     CROSS JOIN LATERAL (SELECT round_half_even(c.carry_in + c.accrued, c.minor_units) AS gross) g
     CROSS JOIN LATERAL (
           SELECT g.gross,
                  round_half_even(g.gross * c.withholding_tax_rate * 0.01, c.minor_units) AS tax) amounts
     WHERE NOT c.already_posted AND c.blocked_reason IS NULL AND c.accrual_count > 0
     ORDER BY c.account_id
    ON CONFLICT ({KEY_BY_MONTH}) DO NOTHING
    RETURNING id, account_id, idempotency_key, currency, gross, tax, net, accrued, accrual_count
)
INSERT INTO {POSTED_TABLE} SELECT * FROM inserted
"""

RESULTS_SQL = f"""
WITH outcome AS (
    SELECT c.account_id, c.currency, posted.gross AS amount, NULL::numeric AS previous_amount,
           NULL::text AS error_message,
           CASE WHEN posted.account_id IS NOT NULL THEN 'SUCCESS'
                WHEN c.already_posted THEN 'SKIPPED'
                WHEN c.blocked_reason IS NOT NULL THEN 'FAILED'
                ELSE 'SKIPPED' END AS result_status,
           CASE WHEN posted.account_id IS NOT NULL THEN NULL
                WHEN c.already_posted THEN '{ALREADY_POSTED}'
                WHEN c.blocked_reason IS NOT NULL THEN c.blocked_reason
                WHEN c.accrual_count = 0 THEN '{NOTHING_TO_POST}'
                -- due, complete and with accruals, yet the insert returned nothing: a concurrent run
                -- committed the same key first
                ELSE '{ALREADY_POSTED}' END AS reason
      FROM {CANDIDATES_TABLE} c
      LEFT JOIN {POSTED_TABLE} posted ON posted.account_id = c.account_id
),
results AS ({account_results_insert(JOB_TYPE, "outcome")}),
statuses AS ({account_status_upsert(JOB_TYPE, "outcome")})
SELECT status, count(*) FROM results GROUP BY status
"""

TOTALS_SQL = f"""
SELECT currency, count(*), sum(gross), sum(tax), sum(net)
  FROM {POSTED_TABLE}
 GROUP BY currency
 ORDER BY currency
"""


CREATE_OWED_SQL = f"""
CREATE TEMP TABLE {OWED_TABLE} ON COMMIT DROP AS {OWED_SQL}
"""


def pass_parameters(
    scope: dict[str, Any], run_date: date, due_date: date | None, first_id: int, last_id: int
) -> dict[str, Any]:
    """The statements' parameters for one pass over an id range: the run's own date R, or an owed P."""
    day = due_date or run_date
    return {
        **scope,
        "run_date": run_date,
        "business_date": day,
        "owed_only": due_date is not None,
        "first_id": first_id,
        "last_id": last_id,
    }


def chunk_parameters(
    task: ChunkTask, due_date: date | None = None, write_seq: int | None = None
) -> dict[str, Any]:
    return {
        **pass_parameters(
            scope_parameters(task.business_date, task.config),
            task.business_date,
            due_date,
            task.chunk.first_id,
            task.chunk.last_id,
        ),
        "execution_id": task.execution_id,
        "write_seq": write_seq,
    }


def post_chunk(conn: psycopg.Connection, task: ChunkTask, ledger: Ledger) -> PostingChunkTotals:
    """Post the chunk inside the caller's transaction (or a savepoint of it): first the postings its
    accounts owe from earlier due dates, oldest first (each carries into the next), then R's own.

    A late posting is the posting of its due date P in everything but `made_on`: P's key, the
    pending rows up to P, the carry of the posting before it, value date P, final and written off
    as on P. Everything here, the ledger's journals included, commits or rolls back together.
    """
    with conn.transaction():
        # First: until this commits no accrual row is written, so what the passes sum is what
        # their postings capitalize (their write_seq), and nothing changes under them.
        write_seq = lock_out_accrual_writers(conn)
        owed_dates = create_work_tables(conn, chunk_parameters(task))
        late = [post_due_date(conn, task, ledger, chunk_parameters(task, p, write_seq)) for p in owed_dates]
        own = post_due_date(conn, task, ledger, chunk_parameters(task, None, write_seq))
        # Temp tables would otherwise live on until the outer transaction ends.
        conn.execute(f"DROP TABLE {OWED_TABLE}, {CANDIDATES_TABLE}, {POSTED_TABLE}")
    return combine_totals(own, late)


def create_work_tables(conn: psycopg.Connection, params: dict[str, Any]) -> list[date]:
    """The pass tables of a range (dropped at commit), and the due dates it owes postings of, oldest first."""
    conn.execute(CREATE_OWED_SQL, params)
    conn.execute(CREATE_CANDIDATES_SQL)
    conn.execute(CREATE_POSTED_SQL)
    return [row[0] for row in conn.execute(f"SELECT DISTINCT due_date FROM {OWED_TABLE} ORDER BY 1")]


def find_candidates(conn: psycopg.Connection, params: dict[str, Any]) -> bool:
    """One pass's candidates, with the dates that block each (False when there are none)."""
    conn.execute(f"DELETE FROM {CANDIDATES_TABLE}")
    conn.execute(f"DELETE FROM {POSTED_TABLE}")
    if conn.execute(FILL_CANDIDATES_SQL, params).rowcount == 0:
        return False
    conn.execute(f"ANALYZE {CANDIDATES_TABLE}")
    conn.execute(BLOCKED_SQL, params)
    return True


def combine_totals(own: PostingChunkTotals, late: list[PostingChunkTotals]) -> PostingChunkTotals:
    """One chunk's totals over its passes; the late passes' made and still blocked are counted apart."""
    parts = [own, *late]
    posted = add_totals(*(p.posted for p in parts))
    return PostingChunkTotals(
        processed=sum(p.processed for p in parts),
        succeeded=sum(p.succeeded for p in parts),
        skipped=sum(p.skipped for p in parts),
        failed=sum(p.failed for p in parts),
        amounts={currency: t.gross for currency, t in posted.items()},
        journal_lines=sum(p.journal_lines for p in parts),
        posted=posted,
        late_posted=sum(p.succeeded for p in late),
        late_blocked=sum(p.failed for p in late),
    )


def post_due_date(
    conn: psycopg.Connection, task: ChunkTask, ledger: Ledger, params: dict[str, Any]
) -> PostingChunkTotals:
    """One pass: the chunk's candidates for one due date, posted set-based, in the caller's
    transaction (no savepoint of its own: a failing pass rolls the whole chunk back)."""
    day: date = params["business_date"]
    if not find_candidates(conn, params):
        return PostingChunkTotals()
    conn.execute(INSERT_POSTINGS_SQL, params)
    conn.execute(f"ANALYZE {POSTED_TABLE}")
    lines = ledger.post_journals(conn, PostedChunk(day, task.execution_id, POSTED_TABLE))
    counts = {status: int(n) for status, n in conn.execute(RESULTS_SQL, params).fetchall()}
    posted = {
        currency.strip(): CurrencyTotals(int(n), gross, tax, net)
        for currency, n, gross, tax, net in conn.execute(TOTALS_SQL).fetchall()
    }
    return PostingChunkTotals(
        processed=sum(counts.values()),
        succeeded=counts.get("SUCCESS", 0),
        skipped=counts.get("SKIPPED", 0),
        failed=counts.get("FAILED", 0),
        amounts={currency: t.gross for currency, t in posted.items()},
        journal_lines=lines,
        posted=posted,
    )


@dataclass(frozen=True)
class WaitingPosting:
    """A posting owed from an earlier due date, as the next posting run would find it."""

    account_id: int
    account_number: str
    due_date: date
    idempotency_key: str
    is_final: bool
    accrued: Decimal | None
    # The dates still to repair ("INCOMPLETE_ACCRUALS: missing ...; failed ..."), or None when
    # its accruals are complete now and the next posting run will make it.
    blocked_reason: str | None


WAITING_SQL = f"""
SELECT c.account_id, a.account_number, %(business_date)s::date, c.idempotency_key, c.is_final, c.accrued,
       c.blocked_reason
  FROM {CANDIDATES_TABLE} c
  JOIN accounts a ON a.id = c.account_id
 WHERE NOT c.already_posted AND (c.accrual_count > 0 OR c.blocked_reason IS NOT NULL)
 ORDER BY c.account_id
"""


def waiting_postings(
    conn: psycopg.Connection, next_run_date: date, account_ids: list[int] | None = None
) -> list[WaitingPosting]:
    """The postings a posting run of `next_run_date` owes from earlier due dates, oldest first.

    Runs the posting's own owed and completeness statements in a transaction that is rolled
    back, so what it reports is exactly what that run would decide, and it writes nothing.
    """
    scope = {
        "account_types": [t.value for t in AccountType],
        "account_ids": account_ids,
    }
    waiting: list[WaitingPosting] = []
    # The rollback drops the pass tables too.
    with conn.transaction(force_rollback=True):
        # Planned as a chunk's statements are (no JIT): with the server's default, JIT compiling
        # the owed and completeness statements took 5.3-5.6 s of this report at 1M accounts,
        # 1.5-1.8 s without (docs/benchmarks.md, posting, 2026-12-06, 21:50-22:20 UTC).
        tune_chunk_transaction(conn)
        owed_dates = create_work_tables(conn, pass_parameters(scope, next_run_date, None, MIN_ID, MAX_ID))
        for due_date in owed_dates:
            params = pass_parameters(scope, next_run_date, due_date, MIN_ID, MAX_ID)
            if find_candidates(conn, params):
                waiting += [WaitingPosting(*row) for row in conn.execute(WAITING_SQL, params).fetchall()]
    return waiting


def latest_posting_date(conn: psycopg.Connection) -> date | None:
    """The business date of the latest posting run, whatever its status."""
    row = conn.execute(
        f"SELECT max(business_date) FROM interest_batch_execution WHERE job_type = '{JOB_TYPE}'"
    ).fetchone()
    return row[0] if row else None

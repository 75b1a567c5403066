"""The daily accrual (spec §2) as set-based SQL: one statement per chunk of accounts.

The statement computes every account's outcome once (a MATERIALIZED CTE) and then, in the same
snapshot, upserts accrual entries, removes the ACCRUED rows that no longer hold (capitalized ones,
see db/capitalization.py, are never touched), writes the account
results and upserts the account status. The Python side only binds parameters and sums the
per-currency totals the statement returns.

Exactness: Y*100 is an exact NUMERIC (balance scale 4 times rate scale 6), and so is its product
with the day count's numerator; the only division is the last one, by 100 * basis (at most
36,600), carried out at 30 decimals before round_half_even(·, 10). A quotient by such a divisor
whose digits past the 10th are not exactly 5000... differs from that tie by at least
1e-10/36,600, far more than the 1e-30 the division may round away, so the final rounding always
sees the exact tie or the right side of it (tests check the spec's tie and compare with the
domain core's exact Fractions).
"""

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg

from interest_pipeline.batch.chunks import ChunkTask
from interest_pipeline.batch.executions import ChunkTotals, account_results_insert, account_status_upsert
from interest_pipeline.db.capitalization import ENTRIES, SEQUENCE, capitalized
from interest_pipeline.domain import (
    BELOW_MIN_BALANCE,
    CLOSED,
    DORMANT,
    MATURED,
    NO_BALANCE,
    NO_RATE,
    NON_POSITIVE_BALANCE,
    NOT_YET_OPEN,
    AccountStatus,
)
from interest_pipeline.domain.enums import AccrualStatus, JobType

# a plain str: it is also the Dagster job name, which Dagster serializes enums by name for
JOB_TYPE: str = JobType.DAILY_INTEREST_ACCRUAL.value
# A row that no longer accrues still held a CAPITALIZED amount: reported, never touched.
ALREADY_CAPITALIZED = "ALREADY_CAPITALIZED"

# The outcome of every account of the chunk in the run's scope, computed once (benchmarks/bench_accrual.py
# builds its bare INSERT ... SELECT floor from it too).
OUTCOME_CTES = f"""
    night AS (
        SELECT %(business_date)s::date AS d, %(business_date)s::date + 1 AS e
    ),
    day_counts (day_count, numerator, denominator) AS (
        SELECT 'ACT/365F', 1, 365 FROM night
        UNION ALL SELECT 'ACT/360', 1, 360 FROM night
        -- ISDA: the night D -> D+1 lies wholly in D's year, Dec 31 included
        UNION ALL SELECT 'ACT/ACT', 1,
               (make_date(extract(year FROM d)::int + 1, 1, 1) - make_date(extract(year FROM d)::int, 1, 1))
          FROM night
        -- US bond basis: d1 = min(d1, 30); d2 = min(d2, 30) when d1 = 30
        UNION ALL SELECT '30/360',
               360 * (extract(year FROM e) - extract(year FROM d))::int
               + 30 * (extract(month FROM e) - extract(month FROM d))::int
               + (CASE WHEN least(extract(day FROM d), 30) = 30 THEN least(extract(day FROM e), 30)
                       ELSE extract(day FROM e) END
                  - least(extract(day FROM d), 30))::int,
               360
          FROM night
    ),
    schedule AS MATERIALIZED (
        SELECT t.product_code, t.min_balance, t.annual_rate,
               lead(t.min_balance) OVER (PARTITION BY t.product_code ORDER BY t.min_balance) AS next_min
          FROM interest_rate_tiers t
         WHERE t.effective_from = (SELECT max(f.effective_from) FROM interest_rate_tiers f
                                    WHERE f.product_code = t.product_code
                                      AND f.effective_from <= %(business_date)s::date)
    ),
    product AS MATERIALIZED (
        SELECT p.code, p.tier_mode, p.min_balance_for_interest, dc.numerator, dc.denominator
          FROM interest_products p JOIN day_counts dc ON dc.day_count = p.day_count
         WHERE p.account_type = ANY(%(account_types)s::text[])
    ),
    -- The run's scope is the accounts it is about: its account types and its account_ids, the
    -- same scope the posting's completeness check reads off the execution row (a run covers an
    -- account only when its scope does). Accounts outside it are not this run's business: their
    -- rows of D stay as the run that covered them wrote them (a savings-only config's run must
    -- not undo a fixed-deposit one's). Dormancy is not scope but eligibility (spec §2): a dormant
    -- account in a run that excludes dormant accounts is ineligible, so a re-run removes the
    -- ACCRUED row of D an earlier run with dormant accounts included wrote, as for a closure.
    scope AS MATERIALIZED (
        SELECT a.id, a.currency, a.rate_override, a.product_code, p.tier_mode,
               p.min_balance_for_interest, p.numerator, p.denominator,
               CASE WHEN a.opened_on > %(business_date)s::date THEN '{NOT_YET_OPEN}'
                    WHEN a.closed_on <= %(business_date)s::date THEN '{CLOSED}'
                    WHEN a.maturity_date <= %(business_date)s::date THEN '{MATURED}'
                    WHEN a.status = '{AccountStatus.DORMANT}' AND NOT %(include_dormant)s THEN '{DORMANT}'
               END AS ineligible
          FROM accounts a JOIN product p ON p.code = a.product_code
         WHERE a.id BETWEEN %(first_id)s AND %(last_id)s
           AND (%(account_ids)s::bigint[] IS NULL OR a.id = ANY(%(account_ids)s::bigint[]))
    ),
    -- D's existing rows of the chunk in one range scan of (accrual_date, account_id), read in full
    -- before this statement inserts any: a per-account probe planned on stale statistics of
    -- this fast-growing table degrades to a sequential scan per account.
    previous AS MATERIALIZED (
        SELECT x.account_id, x.amount, x.balance,
               CASE WHEN {capitalized("x")} THEN '{AccrualStatus.CAPITALIZED}'
                    ELSE '{AccrualStatus.ACCRUED}' END AS status
          FROM {ENTRIES} x
         WHERE x.accrual_date = %(business_date)s::date AND x.account_id BETWEEN %(first_id)s AND %(last_id)s
    ),
    computed AS (
        SELECT s.id AS account_id, s.currency, s.ineligible, s.min_balance_for_interest,
               s.numerator, s.denominator, b.balance,
               prev.amount AS prev_amount, prev.balance AS prev_balance, prev.status AS prev_status,
               CASE WHEN s.rate_override IS NOT NULL THEN b.balance * s.rate_override
                    WHEN s.tier_mode = 'WHOLE' THEN b.balance * r.whole_rate
                    ELSE r.banded END AS yearly_x100
          FROM scope s
          -- sparse snapshots: the latest one dated <= D, one backward probe of the primary key
          LEFT JOIN LATERAL (
                SELECT ab.closing_balance AS balance FROM account_balances ab
                 WHERE s.ineligible IS NULL AND ab.account_id = s.id
                   AND ab.balance_date <= %(business_date)s::date
                 ORDER BY ab.balance_date DESC LIMIT 1) b ON true
          LEFT JOIN previous prev ON prev.account_id = s.id
          -- the tiers at or below B: WHOLE takes the top one, BANDED sums each band's share
          -- (a tier starting exactly at B adds a zero-width band, so <= serves both)
          LEFT JOIN LATERAL (
                SELECT max(t.annual_rate) FILTER (WHERE t.next_min IS NULL OR t.next_min > b.balance)
                           AS whole_rate,
                       sum((least(b.balance, coalesce(t.next_min, b.balance)) - t.min_balance)
                           * t.annual_rate) AS banded
                  FROM schedule t
                 WHERE s.rate_override IS NULL AND b.balance > 0
                   AND t.product_code = s.product_code AND t.min_balance <= b.balance) r ON true
    ),
    classified AS (
        SELECT c.*,
               CASE WHEN c.ineligible IS NOT NULL OR c.balance IS NULL THEN 'INELIGIBLE'
                    WHEN c.balance <= 0 OR c.balance < c.min_balance_for_interest THEN 'SKIPPED'
                    WHEN c.yearly_x100 IS NULL THEN 'FAILED'
                    ELSE 'SUCCESS' END AS outcome,
               CASE WHEN c.ineligible IS NOT NULL THEN c.ineligible
                    WHEN c.balance IS NULL THEN '{NO_BALANCE}'
                    WHEN c.balance <= 0 THEN '{NON_POSITIVE_BALANCE}'
                    WHEN c.balance < c.min_balance_for_interest THEN '{BELOW_MIN_BALANCE}'
                    WHEN c.yearly_x100 IS NULL THEN '{NO_RATE}' END AS reason
          FROM computed c
    ),
    outcome AS MATERIALIZED (
        SELECT k.account_id, k.currency, k.balance, k.outcome, k.reason,
               k.prev_amount, k.prev_balance, k.prev_status,
               CASE WHEN k.outcome = 'SUCCESS' THEN
                    round_half_even((k.yearly_x100 * k.numerator)::numeric(1000, 30)
                                    / (100 * k.denominator), 10)
               END AS amount
          FROM classified k
    )
"""

_ACCRUE_CHUNK = f"""
WITH {OUTCOME_CTES},
    -- the statement's place on the accruals' clock (db/capitalization.py): drawn while it holds its
    -- lock on the table, so after every posting that committed before it and before any after it
    written AS MATERIALIZED (SELECT nextval('{SEQUENCE}') AS write_seq),
    upserted AS (
        INSERT INTO {ENTRIES} AS x
            (account_id, accrual_date, balance, amount, execution_id, updated_at, write_seq)
        SELECT o.account_id, %(business_date)s::date, o.balance, o.amount, %(execution_id)s, now(),
               (SELECT write_seq FROM written)
          FROM outcome o
         WHERE o.outcome = 'SUCCESS'
           AND (o.prev_status IS NULL
                OR (o.prev_status = 'ACCRUED' AND (o.prev_amount <> o.amount OR o.prev_balance <> o.balance)))
         ORDER BY o.account_id
        ON CONFLICT (account_id, accrual_date) DO UPDATE SET
            balance = EXCLUDED.balance, amount = EXCLUDED.amount,
            execution_id = EXCLUDED.execution_id, updated_at = EXCLUDED.updated_at
        -- unchanged rows are not rewritten, and CAPITALIZED rows never are
        WHERE NOT {capitalized("x")} AND (x.amount <> EXCLUDED.amount OR x.balance <> EXCLUDED.balance)
        RETURNING x.account_id
    ),
    removed AS (
        -- by primary key from an array computed once: a join here, planned on the stale
        -- statistics of a table that just grew, can rescan the outcome once per row of D
        DELETE FROM {ENTRIES} x
         WHERE x.account_id = ANY (ARRAY(SELECT o.account_id FROM outcome o
                                          WHERE o.outcome <> 'SUCCESS' AND o.prev_status = 'ACCRUED'))
           AND x.accrual_date = %(business_date)s::date AND NOT {capitalized("x")}
        RETURNING x.account_id
    ),
    reported AS (
        -- ineligible accounts get a result only when a row of D had to be explained
        SELECT o.account_id, o.currency, o.amount,
               CASE WHEN o.outcome = 'INELIGIBLE' THEN 'SKIPPED' ELSE o.outcome END AS result_status,
               CASE WHEN o.prev_amount IS DISTINCT FROM o.amount THEN o.prev_amount END AS previous_amount,
               CASE WHEN o.outcome = 'SUCCESS' AND o.prev_status = 'CAPITALIZED'
                         AND o.prev_amount <> o.amount THEN '{ALREADY_CAPITALIZED}'
                    ELSE o.reason END AS reason,
               CASE WHEN o.prev_status = 'CAPITALIZED' AND o.prev_amount IS DISTINCT FROM o.amount
                    THEN 'accrual of ' || %(business_date)s::date || ' is capitalized; kept at '
                         || o.prev_amount
                    WHEN o.outcome = 'FAILED' THEN 'no rate_override and no rate schedule in force on '
                         || %(business_date)s::date END AS error_message
          FROM outcome o
         WHERE o.outcome <> 'INELIGIBLE' OR o.prev_status IS NOT NULL
    ),
    results AS ({account_results_insert(JOB_TYPE, "reported")}),
    statuses AS ({account_status_upsert(JOB_TYPE, "reported")})
SELECT r.currency,
       count(*) AS processed,
       count(*) FILTER (WHERE r.status = 'SUCCESS') AS succeeded,
       count(*) FILTER (WHERE r.status = 'SKIPPED') AS skipped,
       count(*) FILTER (WHERE r.status = 'FAILED') AS failed,
       count(*) FILTER (WHERE r.previous_amount IS NOT NULL) AS changed,
       coalesce(sum(r.amount) FILTER (WHERE r.status = 'SUCCESS'), 0) AS amount,
       (SELECT count(*) FROM removed) AS removed
  FROM results r
 GROUP BY r.currency
 ORDER BY r.currency
"""


def chunk_parameters(
    *,
    execution_id: str,
    business_date: date,
    first_id: int,
    last_id: int,
    account_types: Sequence[str],
    include_dormant: bool,
    account_ids: Sequence[int] | None,
) -> dict[str, Any]:
    return {
        "execution_id": execution_id,
        "business_date": business_date,
        "first_id": first_id,
        "last_id": last_id,
        "account_types": list(account_types),
        "include_dormant": include_dormant,
        "account_ids": list(account_ids) if account_ids is not None else None,
    }


def task_parameters(task: ChunkTask) -> dict[str, Any]:
    return chunk_parameters(
        execution_id=task.execution_id,
        business_date=task.business_date,
        first_id=task.chunk.first_id,
        last_id=task.chunk.last_id,
        account_types=task.config.account_types,
        include_dormant=task.config.include_dormant,
        account_ids=task.config.account_ids,
    )


def lock_chunk(conn: psycopg.Connection, task: ChunkTask) -> None:
    """Serialize runs of the same date over the same chunk bounds (two launches at once).

    Not what keeps one row per (account, D): the primary key and the statement's ON CONFLICT do
    that under any interleaving, chunk bounds or not. This keeps the *report* true: taken in its
    own statement, so the accrual statement's snapshot, taken after the wait, sees what the other
    run committed and reports it as unchanged, instead of both runs reporting the same correction
    (or removal) against the amount they both read before either committed. Two runs chunked
    differently (another batch_size) take different locks and may still both report it.
    """
    conn.execute(
        "SELECT pg_advisory_xact_lock(hashtext(%s), hashtext(%s))",
        (f"{JOB_TYPE}:{task.business_date.isoformat()}", f"{task.chunk.first_id}:{task.chunk.last_id}"),
    )


def accrue_chunk(conn: psycopg.Connection, task: ChunkTask) -> ChunkTotals:
    """Accrue one chunk inside the caller's transaction; returns the chunk's counts and totals."""
    lock_chunk(conn, task)
    rows = conn.execute(_ACCRUE_CHUNK, task_parameters(task)).fetchall()
    amounts: dict[str, Decimal] = {}
    processed = succeeded = skipped = failed = changed = removed = 0
    for currency, n, ok, skip, fail, diff, amount, gone in rows:
        processed += n
        succeeded += ok
        skipped += skip
        failed += fail
        changed += diff
        removed = gone
        if ok:
            amounts[currency] = amount
    return ChunkTotals(
        processed=processed,
        succeeded=succeeded,
        skipped=skipped,
        failed=failed,
        changed=changed,
        removed=removed,
        amounts=amounts,
    )

"""Set-based posting SQL (spec §3): the posting job's whole data-access layer.

One chunk of accounts is posted by a handful of statements in ONE transaction: the postings, their
ledger journals, the capitalization of their accruals and the account results commit together or
not at all. Postings are inserted with ON CONFLICT (idempotency_key) DO NOTHING RETURNING, and only
the returned rows are capitalized and journalled, which keeps every key posted once even when two
runs of the same date race each other.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

import psycopg

from interest_pipeline.batch.chunks import Chunk, ChunkTask, contiguous_chunks, failed_first
from interest_pipeline.batch.config import EffectiveConfig
from interest_pipeline.batch.executions import ChunkTotals, account_results_insert, account_status_upsert
from interest_pipeline.resources.ledger import PostedChunk

JOB_TYPE = "interest_posting"
ACCRUAL_JOB_TYPE = "daily_interest_accrual"

# Account result reasons (stable strings: reports and tests match on them).
NOTHING_TO_POST = "NOTHING_TO_POST"
ALREADY_POSTED = "ALREADY_POSTED"
INCOMPLETE_ACCRUALS = "INCOMPLETE_ACCRUALS"

CANDIDATES_TABLE = "posting_chunk_candidates"
POSTED_TABLE = "posting_chunk_posted"


class Ledger(Protocol):
    def post_journals(self, conn: psycopg.Connection, chunk: PostedChunk) -> int: ...


class AccrualsChangedError(RuntimeError):
    """The accrual rows capitalized differ from the ones summed: an accrual re-run raced this chunk."""


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


# Spec §3 "due on P", over accounts a joined with interest_products p; %(business_date)s is P.
# P is a month's last day exactly when P + 1 is a month's first.
DUE_PREDICATE = """
(
    (extract(day FROM %(business_date)s::date + 1) = 1 AND CASE p.posting_frequency
        WHEN 'MONTHLY' THEN true
        WHEN 'QUARTERLY' THEN extract(month FROM %(business_date)s::date) IN (3, 6, 9, 12)
        WHEN 'SEMI_ANNUAL' THEN extract(month FROM %(business_date)s::date) IN (6, 12)
        WHEN 'ANNUAL' THEN extract(month FROM %(business_date)s::date) = 12
        ELSE false
    END)
    OR a.maturity_date = %(business_date)s::date
    OR a.closed_on = %(business_date)s::date
)
"""

SCOPE_PREDICATE = """
p.account_type = ANY (%(account_types)s::text[])
AND (%(account_ids)s::bigint[] IS NULL OR a.id = ANY (%(account_ids)s::bigint[]))
"""

PLAN_CHUNKS_SQL = f"""
SELECT n, min(id), count(*), bool_or(failed_last_time)
  FROM (SELECT a.id, (row_number() OVER (ORDER BY a.id) - 1) / %(batch_size)s AS n,
               failed.account_id IS NOT NULL AS failed_last_time
          FROM accounts a
          JOIN interest_products p ON p.code = a.product_code
          LEFT JOIN interest_batch_account_status failed
                 ON failed.account_id = a.id AND failed.job_type = '{JOB_TYPE}'
                AND failed.last_status = 'FAILED'
         WHERE {SCOPE_PREDICATE} AND {DUE_PREDICATE}) due
 GROUP BY n
 ORDER BY n
"""


def scope_parameters(business_date: date, config: EffectiveConfig) -> dict[str, Any]:
    return {
        "business_date": business_date,
        "account_types": list(config.account_types),
        "account_ids": list(config.account_ids) if config.account_ids is not None else None,
    }


def plan_chunks(conn: psycopg.Connection, business_date: date, config: EffectiveConfig) -> list[Chunk]:
    """The accounts due on P cut into id ranges of at most batch_size of them.

    Unlike the accrual's plan, only due accounts count, so a day when nothing is due is one
    empty chunk rather than the whole book's. The ranges are open-ended and contiguous like the
    accrual's (the chunk statement re-applies the due rule inside its range), and chunks holding
    an account whose latest posting result FAILED go first when the config says so.
    """
    rows = conn.execute(
        PLAN_CHUNKS_SQL, {**scope_parameters(business_date, config), "batch_size": config.batch_size}
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

# The due accounts of the chunk with what their posting needs: the previous posting's carry and
# the sum of the ACCRUED rows up to P. Postings already made under the key are flagged, not redone.
FILL_CANDIDATES_SQL = f"""
INSERT INTO {CANDIDATES_TABLE} (account_id, account_type, currency, minor_units, withholding_tax_rate,
    is_final, idempotency_key, already_posted, prev_posting_date, carry_in, accrued, accrual_count,
    first_accrual_date, last_accrual_date)
SELECT due.id, due.account_type, due.currency, due.minor_units, due.withholding_tax_rate, due.is_final,
       due.idempotency_key,
       EXISTS (SELECT 1 FROM interest_postings done WHERE done.idempotency_key = due.idempotency_key),
       prev.posting_date, coalesce(prev.carry_out, 0),
       pending.accrued, coalesce(pending.accrual_count, 0), pending.first_date, pending.last_date
  FROM (SELECT a.id, p.account_type, a.currency, c.minor_units, p.withholding_tax_rate,
               (a.maturity_date = %(business_date)s::date
                OR a.closed_on = %(business_date)s::date) IS TRUE AS is_final,
               'INT-CAP-' || a.id::text || %(key_suffix)s AS idempotency_key
          FROM accounts a
          JOIN interest_products p ON p.code = a.product_code
          JOIN currencies c ON c.code = a.currency
         WHERE a.id BETWEEN %(first_id)s AND %(last_id)s AND {SCOPE_PREDICATE} AND {DUE_PREDICATE}) due
  LEFT JOIN LATERAL (
        SELECT ip.posting_date, ip.carry_out FROM interest_postings ip
         WHERE ip.account_id = due.id AND ip.posting_date < %(business_date)s::date
         ORDER BY ip.posting_date DESC, ip.id DESC
         LIMIT 1) prev ON true
  LEFT JOIN (
        SELECT ia.account_id, sum(ia.amount) AS accrued, count(*) AS accrual_count,
               min(ia.accrual_date) AS first_date, max(ia.accrual_date) AS last_date
          FROM interest_accruals ia
         WHERE ia.account_id BETWEEN %(first_id)s AND %(last_id)s
           AND ia.status = 'ACCRUED' AND ia.accrual_date <= %(business_date)s::date
         GROUP BY ia.account_id) pending ON pending.account_id = due.id
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
first_ever AS (
    SELECT min(business_date) AS d FROM interest_batch_account_result WHERE job_type = '{ACCRUAL_JOB_TYPE}'
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
first_result AS (
    SELECT c.account_id,
           (SELECT min(r.business_date) FROM interest_batch_account_result r
             WHERE r.account_id = c.account_id AND r.job_type = '{ACCRUAL_JOB_TYPE}') AS first_date
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
        first_accrual_date, last_accrual_date, execution_id, made_on)
    SELECT c.account_id, %(business_date)s::date, c.idempotency_key, c.currency, c.carry_in, c.accrued,
           amounts.gross, c.carry_in + c.accrued - amounts.gross, amounts.tax, amounts.gross - amounts.tax,
           c.withholding_tax_rate, c.is_final,
           CASE WHEN c.is_final THEN c.carry_in + c.accrued - amounts.gross ELSE 0 END,
           c.accrual_count, c.first_accrual_date, c.last_accrual_date, %(execution_id)s,
           %(run_date)s::date
      FROM {CANDIDATES_TABLE} c
     CROSS JOIN LATERAL (SELECT round_half_even(c.carry_in + c.accrued, c.minor_units) AS gross) g
     CROSS JOIN LATERAL (
           SELECT g.gross,
                  round_half_even(g.gross * c.withholding_tax_rate * 0.01, c.minor_units) AS tax) amounts
     WHERE NOT c.already_posted AND c.blocked_reason IS NULL AND c.accrual_count > 0
     ORDER BY c.account_id
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id, account_id, idempotency_key, currency, gross, tax, net, accrued, accrual_count
)
INSERT INTO {POSTED_TABLE} SELECT * FROM inserted
"""

# Capitalizes exactly the rows each returned posting summed, and checks that: a mismatch means
# an accrual run changed them in between, and the whole chunk must roll back.
CAPITALIZE_SQL = f"""
WITH capitalized AS (
    UPDATE interest_accruals ia
       SET status = 'CAPITALIZED', capitalization_date = %(business_date)s::date,
           posting_id = posted.posting_id, updated_at = now()
      FROM {POSTED_TABLE} posted
     WHERE ia.account_id = posted.account_id AND ia.status = 'ACCRUED'
       AND ia.accrual_date <= %(business_date)s::date
 RETURNING ia.account_id, ia.amount
)
SELECT count(*), min(posted.account_id)
  FROM {POSTED_TABLE} posted
  LEFT JOIN (SELECT account_id, sum(amount) AS amount, count(*) AS n
               FROM capitalized GROUP BY account_id) done ON done.account_id = posted.account_id
 WHERE done.n IS DISTINCT FROM posted.accrual_count OR done.amount IS DISTINCT FROM posted.accrued
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


def chunk_parameters(task: ChunkTask) -> dict[str, Any]:
    return {
        **scope_parameters(task.business_date, task.config),
        "execution_id": task.execution_id,
        "run_date": task.business_date,
        "first_id": task.chunk.first_id,
        "last_id": task.chunk.last_id,
        "key_suffix": f"-{task.business_date:%Y-%m}",
    }


def post_chunk(conn: psycopg.Connection, task: ChunkTask, ledger: Ledger) -> PostingChunkTotals:
    """Post the chunk's accounts due on P inside the caller's transaction (or a savepoint of it).

    Everything here, the ledger's journals included, commits or rolls back with that transaction.
    """
    params = chunk_parameters(task)
    with conn.transaction():
        conn.execute(CREATE_CANDIDATES_SQL)
        if conn.execute(FILL_CANDIDATES_SQL, params).rowcount == 0:
            conn.execute(f"DROP TABLE {CANDIDATES_TABLE}")
            return PostingChunkTotals()
        conn.execute(f"ANALYZE {CANDIDATES_TABLE}")
        conn.execute(BLOCKED_SQL, params)
        conn.execute(CREATE_POSTED_SQL)
        conn.execute(INSERT_POSTINGS_SQL, params)
        conn.execute(f"ANALYZE {POSTED_TABLE}")
        mismatch = conn.execute(CAPITALIZE_SQL, params).fetchone()
        if mismatch and mismatch[0]:
            raise AccrualsChangedError(
                f"{mismatch[0]} postings of {task.business_date} (first: account {mismatch[1]}) no longer"
                " match their ACCRUED rows; the chunk was rolled back"
            )
        lines = ledger.post_journals(conn, PostedChunk(POSTED_TABLE, task.business_date, task.execution_id))
        counts = {status: int(n) for status, n in conn.execute(RESULTS_SQL, params).fetchall()}
        posted = {
            currency.strip(): CurrencyTotals(int(n), gross, tax, net)
            for currency, n, gross, tax, net in conn.execute(TOTALS_SQL).fetchall()
        }
        # Temp tables would otherwise live on until the outer transaction ends.
        conn.execute(f"DROP TABLE {CANDIDATES_TABLE}, {POSTED_TABLE}")
    return PostingChunkTotals(
        processed=sum(counts.values()),
        succeeded=counts.get("SUCCESS", 0),
        skipped=counts.get("SKIPPED", 0),
        failed=counts.get("FAILED", 0),
        amounts={currency: t.gross for currency, t in posted.items()},
        journal_lines=lines,
        posted=posted,
    )

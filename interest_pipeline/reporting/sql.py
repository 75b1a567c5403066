"""The reports' reads: aggregate SQL over the books, one statement per figure set, never per account.

Every amount comes back as a NUMERIC Decimal; the callers keep it exact (pandas object columns).
"""

from contextlib import AbstractContextManager
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg

from interest_pipeline.batch.executions import account_results_of
from interest_pipeline.db.capitalization import posting_rows
from interest_pipeline.db.local_settings import local_settings
from interest_pipeline.domain.enums import JobType
from interest_pipeline.posting.sql import key_is

# Per product and currency over [%(first)s, %(last)s]: accounts open in the month, what accrued,
# what was posted, and the carry outstanding at the month's end (each account's latest posting on
# or before it, unless final: a final posting's remainder is written off, not carried).
MONTH_FIGURES_SQL = """
WITH acc AS (
    SELECT a.product_code, a.currency, count(*) AS accounts FROM accounts a
     WHERE a.opened_on <= %(last)s AND (a.closed_on IS NULL OR a.closed_on >= %(first)s)
     GROUP BY 1, 2
),
accrued AS (
    SELECT a.product_code, a.currency, sum(ia.amount) AS accrued, count(*) AS accruals
      FROM interest_accrual_entries ia JOIN accounts a ON a.id = ia.account_id
     WHERE ia.accrual_date BETWEEN %(first)s AND %(last)s
     GROUP BY 1, 2
),
posted AS (
    SELECT a.product_code, ip.currency, count(*) AS postings, sum(ip.gross) AS gross, sum(ip.tax) AS tax,
           sum(ip.net) AS net, sum(ip.written_off) AS written_off
      FROM interest_postings ip JOIN accounts a ON a.id = ip.account_id
     WHERE ip.posting_date BETWEEN %(first)s AND %(last)s
     GROUP BY 1, 2
),
carry AS (
    SELECT a.product_code, a.currency, sum(last.carry_out) FILTER (WHERE NOT last.is_final) AS carry
      FROM accounts a
      JOIN LATERAL (SELECT ip.carry_out, ip.is_final FROM interest_postings ip
                     WHERE ip.account_id = a.id AND ip.posting_date <= %(last)s
                     ORDER BY ip.posting_date DESC, ip.id DESC LIMIT 1) last ON true
     GROUP BY 1, 2
),
keys AS (
    SELECT product_code, currency FROM acc
    UNION SELECT product_code, currency FROM accrued
    UNION SELECT product_code, currency FROM posted
)
SELECT k.product_code, k.currency, coalesce(n.accounts, 0), coalesce(ac.accruals, 0), coalesce(ac.accrued, 0),
       coalesce(po.postings, 0), coalesce(po.gross, 0), coalesce(po.tax, 0), coalesce(po.net, 0),
       coalesce(po.written_off, 0), coalesce(ca.carry, 0)
  FROM keys k
  LEFT JOIN acc n ON n.product_code = k.product_code AND n.currency = k.currency
  LEFT JOIN accrued ac ON ac.product_code = k.product_code AND ac.currency = k.currency
  LEFT JOIN posted po ON po.product_code = k.product_code AND po.currency = k.currency
  LEFT JOIN carry ca ON ca.product_code = k.product_code AND ca.currency = k.currency
 ORDER BY 1, 2
"""

MONTH_COLUMNS = (
    "product",
    "currency",
    "accounts",
    "accruals",
    "accrued",
    "postings",
    "gross",
    "tax",
    "net",
    "written_off",
    "carry_outstanding",
)

# The outcomes that were not a success, per product, currency, job, status and reason kind (the
# reason up to its first colon: INCOMPLETE_ACCRUALS: missing ... counts as INCOMPLETE_ACCRUALS).
# Only the latest result of each (job, account, date) speaks: a re-run that fixed it wins.
POSTING: str = JobType.INTEREST_POSTING.value
ACCRUAL: str = JobType.DAILY_INTEREST_ACCRUAL.value

OUTCOMES_SQL = f"""
SELECT a.product_code, a.currency, r.job_type, r.status, split_part(r.reason, ':', 1) AS reason, count(*)
  FROM interest_batch_account_result r
  JOIN accounts a ON a.id = r.account_id
 WHERE r.status <> 'SUCCESS' AND r.business_date BETWEEN %(first)s AND %(last)s
   -- a later result of the same (job, account, date), by the indexed paths of migration 0014
   AND NOT EXISTS (
       SELECT 1 FROM ({account_results_of(POSTING, "r.account_id", "r.business_date")}) later
        WHERE r.job_type = '{POSTING}'
          AND (later.created_at, later.execution_id) > (r.created_at, r.execution_id))
   AND NOT EXISTS (
       SELECT 1 FROM ({account_results_of(ACCRUAL, "r.account_id", "r.business_date")}) later
        WHERE r.job_type = '{ACCRUAL}'
          AND (later.created_at, later.execution_id) > (r.created_at, r.execution_id))
 GROUP BY 1, 2, 3, 4, 5
 ORDER BY 1, 2, 3, 4, 5
"""

DAILY_ACCRUED_SQL = """
SELECT ia.accrual_date, a.currency, sum(ia.amount)
  FROM interest_accrual_entries ia JOIN accounts a ON a.id = ia.account_id
 WHERE ia.accrual_date BETWEEN %(first)s AND %(last)s
 GROUP BY 1, 2 ORDER BY 1, 2
"""

POSTING_GROSS_SQL = """
SELECT posting_date, currency, sum(gross)
  FROM interest_postings
 WHERE posting_date BETWEEN %(first)s AND %(last)s
 GROUP BY 1, 2 ORDER BY 1, 2
"""


def _strip(rows: list[tuple[Any, ...]], currency_at: int) -> list[tuple[Any, ...]]:
    """char(3) comes back as text already; strip defensively so keys compare."""
    return [
        tuple(v.strip() if i == currency_at and isinstance(v, str) else v for i, v in enumerate(r))
        for r in rows
    ]


def month_figures(conn: psycopg.Connection, first: date, last: date) -> list[tuple[Any, ...]]:
    return _strip(conn.execute(MONTH_FIGURES_SQL, {"first": first, "last": last}).fetchall(), 1)


def month_outcomes(conn: psycopg.Connection, first: date, last: date) -> list[tuple[Any, ...]]:
    return _strip(conn.execute(OUTCOMES_SQL, {"first": first, "last": last}).fetchall(), 1)


def daily_accrued(conn: psycopg.Connection, first: date, last: date) -> list[tuple[date, str, Decimal]]:
    return [(d, c.strip(), a) for d, c, a in conn.execute(DAILY_ACCRUED_SQL, {"first": first, "last": last})]


def posting_gross(conn: psycopg.Connection, first: date, last: date) -> list[tuple[date, str, Decimal]]:
    return [(d, c.strip(), a) for d, c, a in conn.execute(POSTING_GROSS_SQL, {"first": first, "last": last})]


# --- A run's figures per currency, for the close ops' metadata tables --------------------------

# A result's currency, or its account's when it has none (the column is nullable): a probe only for
# those rows. Joining every result to `accounts` read the whole table at each close (1M rows).
RESULT_CURRENCY = "coalesce(r.currency, (SELECT a.currency FROM accounts a WHERE a.id = r.account_id))"

ACCRUAL_RUN_SQL = f"""
SELECT {RESULT_CURRENCY} AS currency, count(*) AS accounts,
       count(*) FILTER (WHERE r.status = 'SUCCESS') AS accrued_accounts,
       count(*) FILTER (WHERE r.status = 'SKIPPED') AS skipped,
       count(*) FILTER (WHERE r.status = 'FAILED') AS failed,
       coalesce(sum(r.amount) FILTER (WHERE r.status = 'SUCCESS'), 0) AS accrued
  FROM interest_batch_account_result r
 WHERE r.execution_id = %(execution_id)s
 GROUP BY 1 ORDER BY 1
"""

ACCRUAL_RUN_COLUMNS = ("currency", "accounts", "accrued_accounts", "skipped", "failed", "accrued")

POSTING_RUN_SQL = f"""
WITH results AS (
    SELECT {RESULT_CURRENCY} AS currency, count(*) AS accounts,
           count(*) FILTER (WHERE r.status = 'SKIPPED') AS skipped,
           count(*) FILTER (WHERE r.status = 'FAILED') AS blocked
      FROM interest_batch_account_result r
     WHERE r.execution_id = %(execution_id)s
     GROUP BY 1
),
made AS (
    SELECT currency, count(*) AS posted, sum(accrued) AS accrued, sum(gross) AS gross, sum(tax) AS tax,
           sum(net) AS net, sum(written_off) AS written_off
      FROM interest_postings WHERE execution_id = %(execution_id)s
     GROUP BY 1
)
SELECT coalesce(r.currency, m.currency), coalesce(r.accounts, 0), coalesce(m.posted, 0),
       coalesce(r.skipped, 0), coalesce(r.blocked, 0), coalesce(m.accrued, 0), coalesce(m.gross, 0),
       coalesce(m.tax, 0), coalesce(m.net, 0), coalesce(m.written_off, 0)
  FROM results r FULL JOIN made m ON m.currency = r.currency
 ORDER BY 1
"""

POSTING_RUN_COLUMNS = (
    "currency",
    "accounts",
    "posted",
    "skipped",
    "blocked",
    "accrued",
    "gross",
    "tax",
    "net",
    "written_off",
)


def by_execution(conn: psycopg.Connection) -> AbstractContextManager[None]:
    """For the statements of the block: an execution's results read through the primary key's
    execution prefix, grouped in memory, no JIT (db.local_settings: the caller's later statements
    plan as before).

    A run's results were written together and lie together in the heap, which the planner cannot
    know: at 1M accounts it chose a parallel scan of the whole result log (27 M rows after a
    month) and a sort spilled to disk, 1.5-1.75 s, against 0.6 s through the index (docs/benchmarks.md).
    """
    return local_settings(conn, enable_seqscan="off", jit="off", work_mem="128MB")


def accrual_run(conn: psycopg.Connection, execution_id: str) -> list[tuple[Any, ...]]:
    with conn.transaction(), by_execution(conn):
        return _strip(conn.execute(ACCRUAL_RUN_SQL, {"execution_id": execution_id}).fetchall(), 0)


def posting_run(conn: psycopg.Connection, execution_id: str) -> list[tuple[Any, ...]]:
    with conn.transaction(), by_execution(conn):
        return _strip(conn.execute(POSTING_RUN_SQL, {"execution_id": execution_id}).fetchall(), 0)


# --- explain: one account's stored facts ------------------------------------------------------

ACCOUNT_SQL = """
SELECT a.id, a.account_number, a.currency, a.status, a.opened_on, a.closed_on, a.maturity_date,
       a.rate_override, p.code, p.account_type, p.day_count, p.tier_mode, p.posting_frequency,
       p.withholding_tax_rate, p.min_balance_for_interest, c.minor_units
  FROM accounts a JOIN interest_products p ON p.code = a.product_code JOIN currencies c ON c.code = a.currency
 WHERE a.id = %(account_id)s
"""

TIERS_SQL = """
SELECT t.effective_from, t.min_balance, t.annual_rate FROM interest_rate_tiers t
 WHERE t.product_code = %(product)s ORDER BY t.effective_from, t.min_balance
"""

ACCRUAL_SQL = """
SELECT balance, amount, status, posting_id, capitalization_date, execution_id FROM interest_accruals
 WHERE account_id = %(account_id)s AND accrual_date = %(day)s
"""

# The latest result of each job for the account and date (a re-run's result wins), each job's
# by its indexed path (migration 0014).
RESULTS_SQL = f"""
SELECT DISTINCT ON (job_type) job_type, status, reason, amount, execution_id
  FROM ({account_results_of(POSTING, "%(account_id)s", "%(day)s::date")}
        UNION ALL
        {account_results_of(ACCRUAL, "%(account_id)s", "%(day)s::date")}) x
 ORDER BY job_type, created_at DESC, execution_id DESC
"""

POSTING_SQL = """
SELECT id, idempotency_key, posting_date, made_on, currency, carry_in, accrued, gross, carry_out, tax, net,
       withholding_tax_rate, is_final, written_off, accrual_count, first_accrual_date, last_accrual_date
  FROM interest_postings
 WHERE account_id = %(account_id)s AND posting_date = %(day)s
"""

CAPITALIZED_SQL = f"""
SELECT x.accrual_date, x.balance, x.amount
  FROM interest_postings ip
 CROSS JOIN LATERAL ({posting_rows("ip")}) x
 WHERE ip.id = %(posting_id)s
 ORDER BY 1
"""

# By the journal key's index, month first (migration 0017).
JOURNAL_SQL = f"""
SELECT line_no, gl_account, account_id, debit, credit, currency, value_date FROM ledger_entries
 WHERE {key_is("journal_key", "%(key)s")} ORDER BY line_no
"""


def one(conn: psycopg.Connection, statement: str, params: dict[str, Any]) -> tuple[Any, ...] | None:
    row = conn.execute(statement, params).fetchone()
    return tuple(row) if row is not None else None


def many(conn: psycopg.Connection, statement: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in conn.execute(statement, params).fetchall()]

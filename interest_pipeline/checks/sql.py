"""Reconciliation checks of the books as set-based SQL: the data-access side of the Dagster checks.

Each check reads what the jobs wrote for one execution (and the dates it touched) and returns its
figures, the rows that break it (at most MAX_OFFENDING of them) and how many there are in all.
One statement per figure set and one per offender list, whatever the number of accounts: a check
after a 1M-account run costs a few scans, not a loop. They never write.

Amounts are Decimals read from NUMERIC and rendered as exact strings; nothing here is a float.
"""

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

import psycopg
from psycopg.pq import TransactionStatus

from interest_pipeline.batch.chunks import MAX_ID, MIN_ID
from interest_pipeline.batch.executions import read_execution
from interest_pipeline.db.capitalization import pending_rows, previous_posting
from interest_pipeline.db.local_settings import local_settings
from interest_pipeline.posting.sql import ALREADY_POSTED, NOTHING_TO_POST, due_on, posting_key

MAX_OFFENDING = 20

T = TypeVar("T")

# Check names: stable, they are the Dagster check names and what reports and tests match on.
JOURNALS_BALANCE = "journals_balance"
JOURNALS_EQUAL_POSTINGS = "journals_equal_postings_gross"
CAPITALIZED_ACCRUALS_MATCH = "capitalized_accruals_match_postings"
GROSS_IS_NET_PLUS_TAX = "gross_is_net_plus_tax"
DUE_ACCOUNTS_HAVE_OUTCOME = "due_accounts_have_outcome"
ACCRUAL_OUTCOMES = "eligible_accounts_have_one_outcome"


@dataclass(frozen=True)
class CheckResult:
    """One check's verdict: passed exactly when no row offends."""

    name: str
    description: str
    figures: dict[str, Any]
    columns: tuple[str, ...]
    offending: list[tuple[Any, ...]] = field(default_factory=list)
    offending_count: int = 0

    @property
    def passed(self) -> bool:
        return self.offending_count == 0


def text(value: object) -> object:
    """Decimals as their exact strings (NUMERIC's own digits); everything else as it is."""
    return f"{value:f}" if isinstance(value, Decimal) else value


def _offenders(
    conn: psycopg.Connection, bad_sql: str, params: dict[str, Any]
) -> tuple[tuple[str, ...], list[tuple[Any, ...]], int]:
    """The first MAX_OFFENDING rows of `bad_sql` (ordered by its first columns) and their total count."""
    cur = conn.execute(
        f"SELECT bad.*, count(*) OVER () AS total FROM ({bad_sql}) bad ORDER BY 1, 2 LIMIT {MAX_OFFENDING}",
        params,
    )
    columns = tuple(d.name for d in (cur.description or [])[:-1])
    rows = cur.fetchall()
    count = int(rows[0][-1]) if rows else 0
    return columns, [tuple(text(v) for v in row[:-1]) for row in rows], count


def _per_currency(rows: Sequence[tuple[Any, ...]], names: Sequence[str]) -> dict[str, dict[str, object]]:
    """{currency: {name: value}} from rows (currency, value, ...), currencies in order."""
    return {str(row[0]).strip(): {n: text(v) for n, v in zip(names, row[1:], strict=True)} for row in rows}


def _dates_figure(dates: Sequence[date]) -> list[str]:
    return [d.isoformat() for d in sorted(dates)]


def _per_currency_figures(
    conn: psycopg.Connection,
    dates: Sequence[date],
    table: str,
    date_column: str,
    aggregates: str,
    names: Sequence[str],
    totals: dict[str, str],
) -> dict[str, Any]:
    """The figures of a check on the dates' rows of one table: the dates, whole-number totals over
    every currency (figure -> one of `names`) and, per currency, `names` = the `aggregates`."""
    rows = conn.execute(
        f"SELECT currency, {aggregates}"
        f"  FROM {table} WHERE {date_column} = ANY (%(dates)s::date[]) GROUP BY currency ORDER BY 1",
        {"dates": list(dates)},
    ).fetchall()
    return {
        "dates": _dates_figure(dates),
        **{figure: sum(int(r[1 + list(names).index(name)]) for r in rows) for figure, name in totals.items()},
        "by_currency": _per_currency(rows, names),
    }


def _check(
    conn: psycopg.Connection,
    name: str,
    description: str,
    figures: dict[str, Any],
    bad_sql: str,
    params: dict[str, Any],
) -> CheckResult:
    columns, rows, count = _offenders(conn, bad_sql, params)
    return CheckResult(name, description, figures, columns, rows, count)


# --- Ledger ------------------------------------------------------------------------------------

UNBALANCED_JOURNALS_SQL = """
SELECT journal_key, value_date, string_agg(DISTINCT currency, ',') AS currencies,
       sum(debit) AS debit, sum(credit) AS credit
  FROM ledger_entries
 WHERE value_date = ANY (%(dates)s::date[])
 GROUP BY journal_key, value_date
HAVING sum(debit) <> sum(credit) OR count(DISTINCT currency) > 1
"""
UNBALANCED_JOURNAL_COLUMNS = ("journal_key", "value_date", "currencies", "debit", "credit")


# A journal per key (j: its lines' min currency and debit) that is not its posting (p), either side
# possibly missing: counted by JOURNAL_FIGURES_SQL, listed by JOURNAL_VS_POSTING_SQL.
JOURNAL_UNLIKE_POSTING = "j.debit IS DISTINCT FROM p.gross OR j.currency IS DISTINCT FROM p.currency"

# Both ledger checks from ONE grouping of the dates' lines per journal, date and currency: the
# balance's figures per currency and its count of unbalanced journals, the journals' debit per key
# against the postings' gross (the count of unequal ones) and both sides' sums per currency. The
# offending rows are read only when there are any. At a 1M-account month end the two checks read
# and grouped the 932,272 lines once each: 2.3 s and 1.85 s, one after the other on the close's
# first connection (docs/benchmarks.md, 2026-12-06, 16:30-17:10 UTC).
JOURNAL_FIGURES_SQL = f"""
WITH per_currency AS MATERIALIZED (
    SELECT journal_key, value_date, currency, count(*) AS lines, sum(debit) AS debit, sum(credit) AS credit
      FROM ledger_entries
     WHERE value_date = ANY (%(dates)s::date[])
     GROUP BY journal_key, value_date, currency
),
-- per key, as JOURNAL_VS_POSTING_SQL groups the lines
journals AS (
    SELECT journal_key, min(currency) AS currency, sum(debit) AS debit FROM per_currency GROUP BY journal_key
),
postings AS (
    SELECT currency, idempotency_key, gross
      FROM interest_postings WHERE posting_date = ANY (%(dates)s::date[])
),
ledger AS (
    SELECT currency, count(DISTINCT journal_key) AS journals, sum(lines)::bigint AS lines,
           sum(debit) AS debit, sum(credit) AS credit
      FROM per_currency GROUP BY currency
),
posted AS (SELECT currency, sum(gross) AS gross FROM postings GROUP BY currency)
SELECT coalesce(l.currency, g.currency), l.journals, l.lines, l.debit, l.credit, g.gross,
       (SELECT count(*) FROM (SELECT 1 FROM per_currency GROUP BY journal_key, value_date
                               HAVING sum(debit) <> sum(credit) OR count(*) > 1) unbalanced),
       (SELECT count(*) FROM journals j
          FULL JOIN (SELECT * FROM postings WHERE gross > 0) p ON p.idempotency_key = j.journal_key
         WHERE {JOURNAL_UNLIKE_POSTING})
  FROM ledger l
  FULL JOIN posted g ON g.currency = l.currency
 ORDER BY 1
"""


def journal_checks(conn: psycopg.Connection, dates: Sequence[date]) -> tuple[CheckResult, CheckResult]:
    """The checks JOURNALS_BALANCE and JOURNALS_EQUAL_POSTINGS, from one read of the dates' ledger
    lines (the close runs both; apart, each read and grouped every line)."""
    params = {"dates": list(dates)}
    rows = conn.execute(JOURNAL_FIGURES_SQL, params).fetchall()
    unbalanced, unequal = (int(rows[0][6]), int(rows[0][7])) if rows else (0, 0)
    in_ledger = [r for r in rows if r[1] is not None]
    balance_figures = {
        "dates": _dates_figure(dates),
        "journals": sum(int(r[1]) for r in in_ledger),
        "lines": sum(int(r[2]) for r in in_ledger),
        "by_currency": _per_currency([r[:5] for r in in_ledger], ("journals", "lines", "debit", "credit")),
    }
    equal_figures = {
        "dates": _dates_figure(dates),
        "by_currency": _per_currency(
            [
                (r[0], r[3] if r[3] is not None else Decimal(0), r[5] if r[5] is not None else Decimal(0))
                for r in rows
            ],
            ("journal_debit", "posting_gross"),
        ),
    }
    balance_description = (
        "Every journal of the date balances: its debits equal its credits, all in one currency."
    )
    equal_description = "The journals of the date equal the postings' gross, per posting and so per currency."
    balance = (
        _check(conn, JOURNALS_BALANCE, balance_description, balance_figures, UNBALANCED_JOURNALS_SQL, params)
        if unbalanced
        else CheckResult(JOURNALS_BALANCE, balance_description, balance_figures, UNBALANCED_JOURNAL_COLUMNS)
    )
    equal = (
        _check(
            conn, JOURNALS_EQUAL_POSTINGS, equal_description, equal_figures, JOURNAL_VS_POSTING_SQL, params
        )
        if unequal
        else CheckResult(
            JOURNALS_EQUAL_POSTINGS, equal_description, equal_figures, JOURNAL_VS_POSTING_COLUMNS
        )
    )
    return balance, equal


# Per posting key: the journal's debit (line 1, interest expense) against the posting's gross.
# A posting with gross 0 has no journal; a journal without a posting of the dates is an offender.
JOURNAL_VS_POSTING_SQL = f"""
WITH journals AS (
    SELECT journal_key, min(currency) AS currency, sum(debit) AS debit
      FROM ledger_entries WHERE value_date = ANY (%(dates)s::date[]) GROUP BY journal_key
),
postings AS (
    SELECT idempotency_key, currency, gross
      FROM interest_postings WHERE posting_date = ANY (%(dates)s::date[]) AND gross > 0
)
SELECT coalesce(j.journal_key, p.idempotency_key) AS journal_key,
       coalesce(j.currency, p.currency) AS currency, j.debit AS journal_debit, p.gross AS posting_gross
  FROM journals j
  FULL JOIN postings p ON p.idempotency_key = j.journal_key
 WHERE {JOURNAL_UNLIKE_POSTING}
"""
JOURNAL_VS_POSTING_COLUMNS = ("journal_key", "currency", "journal_debit", "posting_gross")


# --- Postings ----------------------------------------------------------------------------------

# What each posting recorded against the accrual rows it capitalized (db/capitalization.py: its
# account's rows the previous posting left pending, up to its date, written before it), and its
# carry_in against the carry_out of the account's posting before it.
TAKEN_BY_P = pending_rows("p.account_id", "p.posting_date", "p.prev_date", "p.prev_seq", "p.write_seq")
CAPITALIZED_SQL = f"""
WITH posted AS MATERIALIZED (
    SELECT ip.id, ip.account_id, ip.idempotency_key, ip.posting_date, ip.accrued, ip.accrual_count,
           ip.carry_in, ip.carry_out, ip.gross, ip.write_seq,
           prev.posting_date AS prev_date, prev.write_seq AS prev_seq, prev.carry_out AS prev_carry_out
      FROM interest_postings ip
      LEFT JOIN LATERAL ({previous_posting("ip.account_id", "ip.posting_date")}) prev ON true
     WHERE ip.posting_date = ANY (%(dates)s::date[])
)
-- per posting, whatever the estimates: a join of the per-posting aggregate to the postings, planned
-- on a table analyzed when it was small, re-aggregated every posting's rows once per posting
SELECT p.account_id, p.idempotency_key, p.accrued AS recorded_accrued,
       c.amount AS capitalized_amount, p.accrual_count AS recorded_count,
       c.n AS capitalized_count, p.carry_in, coalesce(p.prev_carry_out, 0) AS previous_carry_out,
       p.carry_out, p.gross
  FROM posted p
 CROSS JOIN LATERAL (SELECT coalesce(sum(x.amount), 0) AS amount, count(*) AS n FROM ({TAKEN_BY_P}) x) c
 WHERE c.amount <> p.accrued OR c.n <> p.accrual_count
    OR p.carry_in <> coalesce(p.prev_carry_out, 0)
    OR p.gross <> p.accrued + p.carry_in - p.carry_out
"""


def capitalized_accruals_match(conn: psycopg.Connection, dates: Sequence[date]) -> CheckResult:
    """The accruals each posting capitalized sum to what it recorded, and its carry follows on."""
    params = {"dates": list(dates)}
    figures = _per_currency_figures(
        conn,
        dates,
        "interest_postings",
        "posting_date",
        "count(*), sum(accrued), sum(carry_in), sum(carry_out), sum(accrual_count)",
        ("postings", "accrued", "carry_in", "carry_out", "accruals"),
        {"postings": "postings", "accruals_capitalized": "accruals"},
    )
    return _check(
        conn,
        CAPITALIZED_ACCRUALS_MATCH,
        "The accruals each posting capitalized sum to its recorded accrued and count; "
        "carry_in is the previous posting's carry_out and gross = accrued + carry_in - carry_out.",
        figures,
        CAPITALIZED_SQL,
        params,
    )


GROSS_SQL = """
SELECT account_id, idempotency_key, gross, net, tax
  FROM interest_postings
 WHERE posting_date = ANY (%(dates)s::date[]) AND gross <> net + tax
"""


def gross_is_net_plus_tax(conn: psycopg.Connection, dates: Sequence[date]) -> CheckResult:
    params = {"dates": list(dates)}
    figures = _per_currency_figures(
        conn,
        dates,
        "interest_postings",
        "posting_date",
        "count(*), sum(gross), sum(tax), sum(net)",
        ("postings", "gross", "tax", "net"),
        {"postings": "postings"},
    )
    return _check(
        conn, GROSS_IS_NET_PLUS_TAX, "gross = net + tax for every posting.", figures, GROSS_SQL, params
    )


# The accounts due on the execution's date in its scope, each with what the execution decided.
DUE_OUTCOMES_SQL = f"""
WITH e AS MATERIALIZED (SELECT * FROM interest_batch_execution WHERE id = %(execution_id)s),
due AS (
    SELECT a.id AS account_id, {posting_key("a.id", "e.business_date")} AS key,
           e.business_date, e.id AS execution_id
      FROM e
      JOIN accounts a ON true
      JOIN interest_products p ON p.code = a.product_code
     WHERE p.account_type = ANY (e.account_types)
       AND (e.account_ids IS NULL OR a.id = ANY (e.account_ids))
       AND {due_on("e.business_date")}
)
SELECT d.account_id, r.status, r.reason, ip.id IS NOT NULL AS posted,
       CASE WHEN ip.id IS NOT NULL AND (r.status IS NULL OR r.status IN ('SUCCESS', 'SKIPPED')) THEN 'posted'
            WHEN r.status = 'FAILED' AND r.reason IS NOT NULL THEN 'blocked'
            WHEN r.status = 'SKIPPED' AND r.reason = '{NOTHING_TO_POST}' THEN 'nothing_to_post'
            ELSE 'unaccounted' END AS outcome
  FROM due d
  -- the execution's results of its date, by the primary key's prefix with the id bound (joined on
  -- the execution row's id, each due account probed the result log: 458,554 probes, ~1.1 s of the
  -- check's 2.5 s at a 1M-account month end), hashed once
  LEFT JOIN (SELECT x.account_id, x.status, x.reason FROM interest_batch_account_result x
              WHERE x.execution_id = %(execution_id)s
                AND x.business_date = (SELECT business_date FROM e)) r ON r.account_id = d.account_id
  LEFT JOIN (SELECT id, idempotency_key FROM interest_postings
              WHERE posting_date = (SELECT business_date FROM e)) ip ON ip.idempotency_key = d.key
"""


# The rows of DUE_OUTCOMES_SQL that break the check.
DUE_OFFENDERS = (
    f"outcome = 'unaccounted' OR (status = 'SUCCESS' AND NOT posted)"
    f" OR (status = 'SKIPPED' AND reason = '{ALREADY_POSTED}' AND NOT posted)"
)
DUE_OFFENDER_COLUMNS = ("account_id", "status", "reason", "posted")
DUE_OUTCOME_KINDS = ("posted", "blocked", "nothing_to_post", "unaccounted")
DUE_FIGURES_SQL = f"""
SELECT {", ".join(f"count(*) FILTER (WHERE outcome = '{k}')" for k in DUE_OUTCOME_KINDS)},
       count(*) FILTER (WHERE {DUE_OFFENDERS})
  FROM ({DUE_OUTCOMES_SQL}) o
"""


def due_accounts_have_outcome(conn: psycopg.Connection, execution_id: str) -> CheckResult:
    """Every account due on the posting execution's date was posted, blocked with a reason, or had
    nothing to post (a posting already made under the key counts as posted).

    One pass counts the outcomes and the offenders; the offending rows are read by a second pass
    only when there are any (a passing check at a 1M-account month end reads the due accounts once,
    and writes no temporary table).
    """
    params = {"execution_id": execution_id}
    # The results and the postings are joined whole (hashed): a new execution is in no statistics,
    # and a nested loop planned for its "few" results probed them once per due account. Only here:
    # the capitalized check, after it on a single connection, is a loop by design.
    with local_settings(conn, enable_nestloop="off"):
        row = conn.execute(DUE_FIGURES_SQL, params).fetchone()
        assert row is not None
        counts = dict(zip(DUE_OUTCOME_KINDS, (int(n) for n in row[:-1]), strict=True))
        figures = {"execution_id": execution_id, "due_accounts": sum(counts.values()), **counts}
        description = (
            "Every account due on the date was posted, blocked with a reason, or had nothing to post."
        )
        if int(row[-1]) == 0:
            return CheckResult(DUE_ACCOUNTS_HAVE_OUTCOME, description, figures, DUE_OFFENDER_COLUMNS)
        return _check(
            conn,
            DUE_ACCOUNTS_HAVE_OUTCOME,
            description,
            figures,
            f"SELECT {', '.join(DUE_OFFENDER_COLUMNS)} FROM ({DUE_OUTCOMES_SQL}) o WHERE {DUE_OFFENDERS}",
            params,
        )


# --- Accruals ----------------------------------------------------------------------------------

# The accounts the accrual execution had to decide on (in its scope, open on D, not ended, with a
# balance snapshot) in the id range [%(first_id)s, %(last_id)s], each with its results of D in that
# execution and its accrual row of D.
# Three reads in account order, merge-joined (merge_joined): the accounts by their key (the scope's
# products as an array, so no join breaks that order), the execution's results of D by their
# primary key's prefix, D's accrual rows by (accrual_date, account_id). D is a bound value, not the
# execution row's: planned against a value it cannot see, the date's share of the accruals was
# guessed from the number of dates and, with a month of history, D's rows were found by a parallel
# scan of all 26 M (0.94 s at 1M accounts). Hashing the results and accrual rows, with the
# accounts hash-joined to their products and sorted, took 1.75-1.82 s at 1M accounts, merged
# 1.38-1.57 s (docs/benchmarks.md, benchmarks/bench_close.py).
ACCRUAL_OUTCOMES_SQL = """
WITH e AS MATERIALIZED (SELECT * FROM interest_batch_execution WHERE id = %(execution_id)s),
results AS (
    SELECT x.account_id, x.status, x.reason FROM interest_batch_account_result x
     WHERE x.execution_id = %(execution_id)s AND x.business_date = %(business_date)s
       AND x.account_id BETWEEN %(first_id)s AND %(last_id)s
),
accrued AS (
    SELECT ia.account_id, ia.amount FROM interest_accrual_entries ia
     WHERE ia.accrual_date = %(business_date)s AND ia.account_id BETWEEN %(first_id)s AND %(last_id)s
),
in_scope AS (
    SELECT a.id AS account_id, e.business_date AS d
      FROM e
      JOIN accounts a ON true
     WHERE a.product_code = ANY (ARRAY(SELECT p.code FROM interest_products p, e
                                        WHERE p.account_type = ANY (e.account_types)))
       AND a.id BETWEEN %(first_id)s AND %(last_id)s
       AND (e.account_ids IS NULL OR a.id = ANY (e.account_ids))
       AND (e.include_dormant OR a.status <> 'DORMANT')
       AND a.opened_on <= e.business_date
       AND (a.closed_on IS NULL OR a.closed_on > e.business_date)
       AND (a.maturity_date IS NULL OR a.maturity_date > e.business_date)
)
SELECT s.account_id, (r.account_id IS NOT NULL)::int AS results, r.status, r.reason,
       ia.amount AS accrued_amount
  FROM in_scope s
  LEFT JOIN results r ON r.account_id = s.account_id
  LEFT JOIN accrued ia ON ia.account_id = s.account_id
 -- an account without a balance snapshot on D is not eligible (and gets no result): probed only
 -- for the few accounts without a result
 WHERE r.account_id IS NOT NULL
    OR EXISTS (SELECT 1 FROM account_balances b WHERE b.account_id = s.account_id AND b.balance_date <= s.d)
"""


def merge_joined(conn: psycopg.Connection) -> None:
    """For the rest of the transaction: tuned_for_checks, and merge joins of index scans only.

    The accrual check joins whole sets (the accounts in scope, a date's results and accrual rows).
    The planner picks a nested loop over them when it expects few rows, which it always does for a
    new execution (its id is in no statistics) and a new date, and on a book loaded but not yet
    analyzed: 10 minutes instead of 1.2 s at 200,000 accounts, measured. The three are read in the
    same key order through their indexes, which a merge join walks side by side with no table to
    build. A subplan (the balance probe) stays an index lookup. Call inside a transaction.
    """
    tuned_for_checks(conn)
    conn.execute("SET LOCAL enable_nestloop = off")
    conn.execute("SET LOCAL enable_hashjoin = off")
    conn.execute("SET LOCAL enable_seqscan = off")


ACCRUAL_OFFENDERS = "results <> 1 OR (status = 'SUCCESS' AND accrued_amount IS NULL)"
ACCRUAL_OUTCOME_COLUMNS = ("account_id", "results", "status", "reason", "accrued_amount")


ACCRUAL_FIGURES_SQL = f"""
SELECT count(*),
       count(*) FILTER (WHERE results = 1 AND status = 'SUCCESS'),
       count(*) FILTER (WHERE results = 1 AND status = 'SKIPPED'),
       count(*) FILTER (WHERE results = 1 AND status = 'FAILED'),
       coalesce(sum(accrued_amount) FILTER (WHERE results = 1 AND status = 'SUCCESS'), 0),
       count(*) FILTER (WHERE {ACCRUAL_OFFENDERS})
  FROM ({ACCRUAL_OUTCOMES_SQL}) o
"""

ACCRUAL_OFFENDERS_SQL = f"""
SELECT {", ".join(ACCRUAL_OUTCOME_COLUMNS)} FROM ({ACCRUAL_OUTCOMES_SQL}) o WHERE {ACCRUAL_OFFENDERS}
"""

# With a second connection, the share of the accounts' id span the first one checks: the second
# also reads the run's table first (reporting.sql.accrual_run, 0.6 s at 1M accounts, against the
# check's 1.4 s), so 70 % here and 30 % there end about together.
FIRST_CONNECTION_SHARE = 0.7

ACCRUAL_SPLIT_SQL = f"""
SELECT (min(id) + (max(id) - min(id)) * {FIRST_CONNECTION_SHARE})::bigint FROM accounts
"""


@dataclass(frozen=True)
class _AccrualPart:
    """One id range's figures (ACCRUAL_FIGURES_SQL's row) and offenders, read on one connection."""

    figures: tuple[Any, ...]
    offending: list[tuple[Any, ...]]
    offending_count: int


def _accrual_part(
    conn: psycopg.Connection, params: dict[str, Any], first_id: int, last_id: int
) -> _AccrualPart:
    """The figures of the ids [first_id, last_id], and their offending rows when there are any,
    both on `conn` (in its transaction, planned by merge_joined)."""
    ranged = {**params, "first_id": first_id, "last_id": last_id}
    row = conn.execute(ACCRUAL_FIGURES_SQL, ranged).fetchone()
    assert row is not None
    if int(row[5]) == 0:
        return _AccrualPart(tuple(row), [], 0)
    _, rows, count = _offenders(conn, ACCRUAL_OFFENDERS_SQL, ranged)
    return _AccrualPart(tuple(row), rows, count)


def accrual_outcomes(
    conn: psycopg.Connection,
    execution_id: str,
    other: psycopg.Connection | None = None,
    meanwhile: Callable[[psycopg.Connection], None] | None = None,
) -> CheckResult:
    """Every eligible account has exactly one outcome for D: accrued (with its row), skipped with a
    reason, or failed.

    One pass computes the figures and counts the offenders; only a failing range reads its
    outcomes again for its offending rows, on the connection that counted them. Materializing the
    million outcomes of a 1M-account date in a temp table for both took ~2 s of the accrual's close.
    With `other` (another connection), the accounts above FIRST_CONNECTION_SHARE of the id span
    are checked there, in a thread, after `meanwhile` (the close's table): the close's two reads
    of the date's results then keep both of PostgreSQL's cores busy to the end.
    """
    above: Future[_AccrualPart] | None = None
    with ThreadPoolExecutor(max_workers=1) as pool:
        with conn.transaction():
            merge_joined(conn)
            execution = read_execution(conn, execution_id)
            day = execution.business_date if execution else None
            params = {"execution_id": execution_id, "business_date": day}
            if other is None or other is conn:
                if meanwhile is not None:
                    meanwhile(conn)
                parts = [_accrual_part(conn, params, MIN_ID, MAX_ID)]
            else:
                [[split]] = conn.execute(ACCRUAL_SPLIT_SQL).fetchall()
                split = MAX_ID - 1 if split is None else int(split)
                above = pool.submit(_accrual_part_apart, other, params, split + 1, meanwhile)
                parts = [_accrual_part(conn, params, MIN_ID, split)]
        if above is not None:
            parts.append(apart_after_commit(conn, above))
    figures = [sum(p.figures[i] for p in parts) for i in range(5)]
    description = (
        "Every eligible account has exactly one outcome for D: accrued, skipped with a reason or failed."
    )
    return CheckResult(
        ACCRUAL_OUTCOMES,
        description,
        {
            "execution_id": execution_id,
            "eligible_accounts": int(figures[0]),
            "accrued": int(figures[1]),
            "skipped": int(figures[2]),
            "failed": int(figures[3]),
            "amount_accrued": text(figures[4]),
        },
        ACCRUAL_OUTCOME_COLUMNS,
        sorted((row for p in parts for row in p.offending), key=lambda r: (r[0], r[1]))[:MAX_OFFENDING],
        sum(p.offending_count for p in parts),
    )


def _accrual_part_apart(
    conn: psycopg.Connection,
    params: dict[str, Any],
    first_id: int,
    then_before: Callable[[psycopg.Connection], None] | None,
) -> _AccrualPart:
    """`then_before` (the close's table), then the accounts from `first_id` up, in one transaction
    of `conn` planned as the first connection's."""
    with conn.transaction():
        if then_before is not None:
            then_before(conn)
        merge_joined(conn)
        return _accrual_part(conn, params, first_id, MAX_ID)


def posting_dates(conn: psycopg.Connection, execution_id: str) -> list[date]:
    """The dates a posting execution touched: its own business date and those of the late postings it made."""
    rows = conn.execute(
        "SELECT business_date FROM interest_batch_execution WHERE id = %(id)s"
        " UNION SELECT posting_date FROM interest_postings WHERE execution_id = %(id)s ORDER BY 1",
        {"id": execution_id},
    ).fetchall()
    return [r[0] for r in rows]


def tuned_for_checks(conn: psycopg.Connection) -> None:
    """For the rest of the transaction: no JIT, and room to group ~1M journal lines in memory.

    The posting checks are a dozen whole-date aggregates: at a 1M-account month end each cost enough
    to be JIT compiled anew, and their groupings of ~930,000 journal lines by key spilled to disk
    at the default 4 MB work_mem. Call inside a transaction.
    """
    conn.execute("SET LOCAL jit = off")
    conn.execute("SET LOCAL work_mem = '128MB'")


def posting_checks(
    conn: psycopg.Connection,
    execution_id: str,
    accruals_conn: psycopg.Connection | None = None,
    meanwhile: Callable[[psycopg.Connection], None] | None = None,
) -> list[CheckResult]:
    """The posting execution's checks, on the dates it touched.

    With `accruals_conn` (another connection), the check that re-reads every accrual row the
    postings took runs on it in a thread, while both journal checks (one read of the lines), the
    due accounts' outcomes, the short gross check and then `meanwhile` (the close's own figures,
    when given) run on `conn`: the two halves cost about the same, and the two connections keep
    both of PostgreSQL's cores busy. The halves, timed one by one on a posted 1M-account month end
    (benchmarks/bench_close.py; docs/benchmarks.md, 2026-12-06, 19:38-19:42 UTC): capitalized
    5.33 s, against the journal checks 3.49 s, due outcomes 1.49 s, gross 0.22 s and the run table
    0.40 s; together 5.85 s. Until the due check stopped probing the result log per account
    (2.5 s) the table went with the re-read.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        with conn.transaction():
            tuned_for_checks(conn)
            dates = posting_dates(conn, execution_id)
            # (a one-session resource hands out the same connection twice: then one after the other)
            taken = (
                pool.submit(_capitalized_apart, accruals_conn, dates)
                if accruals_conn is not None and accruals_conn is not conn
                else None
            )
            balance, equal = journal_checks(conn, dates)
            due = due_accounts_have_outcome(conn, execution_id)
            gross = gross_is_net_plus_tax(conn, dates)
            capitalized = None if taken else capitalized_accruals_match(conn, dates)
            # last on its connection, which balances the halves (see above)
            if meanwhile is not None:
                meanwhile(conn)
        if taken is not None:
            capitalized = apart_after_commit(conn, taken)
    assert capitalized is not None
    return [balance, equal, capitalized, gross, due]


def apart_after_commit(conn: psycopg.Connection, apart: "Future[T]") -> T:
    """The other connection's result, waited for once `conn`'s transaction has ended.

    Waiting inside it would hold `conn`'s locks while the other connection's statement may be
    queued behind a lock request that waits for them (a TRUNCATE, a month partition's DDL, a
    migration): a deadlock PostgreSQL cannot see, one of its waits being in this process. A CI run
    hung so, a test's reset truncating the tables while a background run's close was between its
    two connections' reads.
    """
    if conn.info.transaction_status != TransactionStatus.IDLE:
        raise RuntimeError("apart_after_commit: the first connection is still in a transaction")
    return apart.result()


def _capitalized_apart(conn: psycopg.Connection, dates: Sequence[date]) -> CheckResult:
    """capitalized_accruals_match in one transaction of `conn` tuned as the first connection's."""
    with conn.transaction():
        tuned_for_checks(conn)
        return capitalized_accruals_match(conn, dates)


def accrual_checks(
    conn: psycopg.Connection,
    execution_id: str,
    other: psycopg.Connection | None = None,
    meanwhile: Callable[[psycopg.Connection], None] | None = None,
) -> list[CheckResult]:
    """The accrual execution's checks; `other` and `meanwhile` as accrual_outcomes takes them."""
    return [accrual_outcomes(conn, execution_id, other, meanwhile)]

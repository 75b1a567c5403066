"""Which posting capitalized which accrual row: the one rule, as SQL fragments (migration 0011).

A posting capitalizes no row by writing to it. Every accrual row carries `write_seq`, drawn from
`interest_write_seq` when it is written; a posting's `write_seq` is drawn from the same sequence
after the posting has locked accrual writers out (`lock_out_accrual_writers`), so every row with a
smaller value was committed, and seen by the posting, and every row written later has a larger
one. A posting of P capitalized exactly its account's rows

    dated on or before P, written before it, and not capitalized by an earlier posting,

which is spec section 3's "the ACCRUED rows up to P" as of when it was made. An account's postings
are made in date order (a posting is never made for a date before one the account already has), so
both their dates and their write_seq rise, and a row is pending after the account's latest posting
L exactly when it is dated after L or was written after L (section 5: a back-dated row written after
a posting goes into the next one; a capitalized row is never rewritten).

The view `interest_accruals` derives status, capitalization_date and posting_id by the same rule;
the fragments here are what the jobs and checks use, each an index range per account.
"""

import psycopg

from interest_pipeline.domain.enums import JobType

ENTRIES = "interest_accrual_entries"
SEQUENCE = "interest_write_seq"
# Back-dated rows: written while a posting of their account dated on or after them existed.
BACKDATED = "interest_accrual_backdated"
# the posting job's name in the status rows (a plain str, as posting/sql.py's JOB_TYPE)
POSTING_JOB_TYPE: str = JobType.INTEREST_POSTING.value


def capitalized(row: str) -> str:
    """SQL: the accrual row `row` (an alias of interest_accrual_entries) is capitalized."""
    return f"""EXISTS (
        SELECT 1 FROM interest_postings cap
         WHERE cap.account_id = {row}.account_id AND cap.posting_date >= {row}.accrual_date
           AND cap.write_seq > {row}.write_seq)"""


def pending_rows(
    account: str,
    through: str,
    prev_date: str,
    prev_seq: str,
    before_seq: str | None = None,
    checked_through: str | None = None,
) -> str:
    """SQL: `amount, accrual_date, balance` of the rows of `account` dated up to `through` that a posting
    made after the account's posting (`prev_date`, `prev_seq`; NULLs when it has none) would take.

    Two parts, each reading only the rows it returns: the dates after the previous posting by the
    primary key (the months' partitions from the day after it on: `>= lo + 1`, not `> lo`, so
    that the previous posting's month is pruned when it ended on its last day), and the
    rows written after it though dated before it (back-dated): the account's entries of
    `interest_accrual_backdated`, each looked up by key in its month's partition (migration 0015:
    a trigger records every row written while a posting of its account dated on or after it exists).
    The LATERAL ... LIMIT 1 (one row at most: it is the key) keeps that order, recorded rows first,
    then one key lookup in the row's own month; joined freely, the planner may start from the
    accruals and probe every month's partition for the account.

    `checked_through` (NULL: none) is a date through which a posting run of the account found
    nothing pending (`posting_checked_through`; migration 0016). The dated part then starts after
    the later of it and the previous posting, and the rows dated before that are the recorded ones:
    the trigger also records every row written while such a run's status stands dated on or after
    it. Without it an account never posted (or not for months) read every month's partition since
    the start of history in every posting run: work that grew with history.
    `before_seq` narrows both to the rows written before a given posting (what it took).
    """

    def written_before(alias: str) -> str:
        return f" AND {alias}.write_seq < {before_seq}" if before_seq is not None else ""

    # greatest() skips NULLs: no previous posting and no check leaves lo NULL (every date).
    lo = prev_date if checked_through is None else f"greatest({prev_date}, {checked_through})"
    return f"""
        SELECT ia.amount, ia.accrual_date, ia.balance FROM {ENTRIES} ia
         WHERE ia.account_id = {account} AND ia.accrual_date <= {through}
           AND ia.accrual_date >= coalesce({lo} + 1, '-infinity'::date){written_before("ia")}
        UNION ALL
        SELECT ia.amount, ia.accrual_date, ia.balance
          FROM {BACKDATED} bd
         CROSS JOIN LATERAL (
               SELECT e.amount, e.accrual_date, e.balance FROM {ENTRIES} e
                WHERE e.account_id = bd.account_id AND e.accrual_date = bd.accrual_date
                  -- dated after the previous posting: pending whenever written (no posting
                  -- between it and this one could have taken it)
                  AND (e.write_seq > {prev_seq} OR e.accrual_date > {prev_date}
                       OR {prev_date} IS NULL){written_before("e")}
                LIMIT 1) ia
         WHERE {lo} IS NOT NULL
           AND bd.account_id = {account} AND bd.accrual_date <= least({lo}, {through})"""


def posting_checked_through(account: str, before: str) -> str:
    """SQL: `checked_through`, the date (no row: none) through which the latest posting run of
    `account`, dated on or before `before`, left nothing pending: its status row says SKIPPED
    (NOTHING_TO_POST, or ALREADY_POSTED, whose posting bounds the rows anyway). A FAILED
    (blocked) run or none says nothing. Rows dated up to it and written afterwards are recorded by
    the trigger (migration 0016), which reads the same status row. For a LEFT JOIN LATERAL.

    LIMIT 1 (one row at most: it is the key) keeps it a probe of the key per account: joined
    freely, the planner hashed the whole status table (two rows per account of the book, rewritten
    every night) for a few thousand ended accounts, in the plan and again in every chunk."""
    return f"""
    SELECT st.last_business_date AS checked_through FROM interest_batch_account_status st
     WHERE st.account_id = {account} AND st.job_type = '{POSTING_JOB_TYPE}'
       AND st.last_status = 'SKIPPED' AND st.last_business_date <= {before}
     LIMIT 1"""


def previous_posting(account: str, before: str) -> str:
    """SQL: `posting_date, write_seq, carry_out` of the latest posting of `account` dated before
    `before` (none: no row), the one whose carry a posting of `before` takes on and whose
    rows it does not take."""
    return f"""
    SELECT b.posting_date, b.write_seq, b.carry_out FROM interest_postings b
     WHERE b.account_id = {account} AND b.posting_date < {before}
     ORDER BY b.posting_date DESC, b.id DESC LIMIT 1"""


def posting_rows(posting: str) -> str:
    """SQL: `amount, accrual_date, balance` of the rows the posting `posting` (an alias of
    interest_postings) capitalized: those its account's previous posting left pending, dated up to
    its date and written before it."""
    account, day = f"{posting}.account_id", f"{posting}.posting_date"
    taken = pending_rows(account, day, "prev.posting_date", "prev.write_seq", f"{posting}.write_seq")
    return f"""
        SELECT x.* FROM (SELECT 1) one
          LEFT JOIN LATERAL ({previous_posting(account, day)}) prev ON true
         CROSS JOIN LATERAL ({taken}) x"""


def lock_out_accrual_writers(conn: psycopg.Connection) -> int:
    """Take the posting's place on the accruals' clock, inside the caller's transaction.

    SHARE mode waits for every transaction writing accrual rows to commit (or roll back) and holds
    new ones off until this transaction ends; postings of other chunks and runs share it. The value
    drawn after it is larger than every committed row's and smaller than every later one's.
    """
    conn.execute(f"LOCK TABLE {ENTRIES} IN SHARE MODE")
    row = conn.execute(f"SELECT nextval('{SEQUENCE}')").fetchone()
    assert row is not None
    return int(row[0])

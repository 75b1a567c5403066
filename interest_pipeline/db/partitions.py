"""Month partitions of the accrual rows (migration 0015): created ahead by the jobs, never by hand.

`interest_accrual_entries` is partitioned by RANGE (accrual_date), one partition per calendar
month, plus a DEFAULT partition that catches a row of a month no partition exists for yet (a test
fixture's date, a loader's), so that no writer ever fails for want of one. A night's accrual then
inserts into one month's indexes, a few weeks of rows per account, whatever the years of history
behind it (issue 12: with one table its primary key took an entry per account per day ever
written, and every night's inserts touched a leaf per account all over an index that no longer
fits in memory). A posting reads an account's pending rows from the months since its previous
posting; old months can be detached and archived whole.

`ensure_month_partitions` is what the jobs call before they plan (batch.lifecycle.start_batch):
the run's month and the next one, so a month's partition exists before its first night. It reads
the catalog first and takes a lock only when one is missing, once a month. Rows of that month
already in the default partition are moved into the new partition in the same transaction.
"""

from datetime import date

import psycopg
from psycopg import sql

from interest_pipeline.db.capitalization import ENTRIES

DEFAULT_PARTITION = f"{ENTRIES}_default"
# The 0012 vacuum settings, per partition (a partitioned table has no storage of its own): a
# vacuum after every 500,000 inserted rows keeps the visibility map, and with it the posting's
# index-only reads of the month's rows, current.
PARTITION_STORAGE = "autovacuum_vacuum_insert_threshold = 500000, autovacuum_vacuum_insert_scale_factor = 0"
# Serializes partition creation between runs that start at the same moment.
PARTITION_LOCK_KEY = 0x1A7E_0015


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    first = month_start(day)
    return date(first.year + 1, 1, 1) if first.month == 12 else date(first.year, first.month + 1, 1)


def partition_name(month: date) -> str:
    """The partition holding `month`'s rows: interest_accrual_entries_y2026m01."""
    return f"{ENTRIES}_y{month.year:04d}m{month.month:02d}"


def months_between(first: date, last: date) -> list[date]:
    """The first days of the months from `first`'s to `last`'s, both included."""
    months, month = [], month_start(first)
    while month <= last:
        months.append(month)
        month = next_month(month)
    return months


def existing_partitions(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = %s::regclass",
        (ENTRIES,),
    ).fetchall()
    return {str(name) for (name,) in rows}


def create_month_partition(conn: psycopg.Connection, month: date) -> None:
    """Create `month`'s partition inside the caller's transaction, moving in the rows of that month
    that the default partition holds (PostgreSQL refuses the partition while they are there)."""
    first, after = month_start(month), next_month(month)
    name = sql.Identifier(partition_name(first))
    default = sql.Identifier(DEFAULT_PARTITION)
    params = {"first": first, "after": after}
    in_month = sql.SQL("accrual_date >= %(first)s AND accrual_date < %(after)s")
    conn.execute(
        sql.SQL("CREATE TEMPORARY TABLE moving_accruals AS SELECT * FROM {} WHERE {}").format(
            default, in_month
        ),
        params,
    )
    conn.execute(sql.SQL("DELETE FROM {} WHERE {}").format(default, in_month), params)
    conn.execute(
        sql.SQL("CREATE TABLE {} PARTITION OF {} FOR VALUES FROM ({}) TO ({}) WITH ({})").format(
            name, sql.Identifier(ENTRIES), sql.Literal(first), sql.Literal(after), sql.SQL(PARTITION_STORAGE)
        )
    )
    conn.execute(sql.SQL("INSERT INTO {} SELECT * FROM moving_accruals").format(name))
    # dropped here, not at commit: the next month made in the same transaction makes its own
    conn.execute("DROP TABLE moving_accruals")


def ensure_month_partitions(conn: psycopg.Connection, first: date, last: date) -> list[str]:
    """Create the month partitions of `first`..`last` that do not exist yet, in the caller's
    transaction; returns the names created (usually none: then nothing is locked)."""
    wanted = {partition_name(m): m for m in months_between(first, last)}
    missing = sorted(set(wanted) - existing_partitions(conn))
    if not missing:
        return []
    created = []
    # a transaction even on an autocommit connection (a savepoint inside the caller's): rows moved
    # out of the default partition are deleted there and inserted into the new one, all or nothing
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (PARTITION_LOCK_KEY,))
        for name in sorted(set(wanted) - existing_partitions(conn)):
            create_month_partition(conn, wanted[name])
            created.append(name)
    return created


def ensure_partitions_for(conn: psycopg.Connection, business_date: date) -> list[str]:
    """What a run of `business_date` needs, and the month after it (ahead of its first night)."""
    return ensure_month_partitions(conn, business_date, next_month(business_date))


def is_partition(table_name: str) -> bool:
    """A month (or the default) partition: a table of the database that no model describes."""
    return table_name == DEFAULT_PARTITION or (
        table_name.startswith(f"{ENTRIES}_y") and len(table_name) == len(partition_name(date(2000, 1, 1)))
    )

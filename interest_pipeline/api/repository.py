"""The API's data access: SQLAlchemy Core over the models, returning typed rows.

Every read is one statement (a page and its count are two), on the indexes migration 0008 and
earlier ones made for them; benchmarks/bench_api.py measures them at full scale.
"""

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Numeric, and_, cast, func, insert, literal_column, select, update
from sqlalchemy.exc import IntegrityError

from interest_pipeline.batch.executions import EXECUTION_COLUMNS, ExecutionRow
from interest_pipeline.db.core import columns_of, typed
from interest_pipeline.db.tables import ACCOUNT, CONFIG, EXECUTION, RESULT, TOKEN
from interest_pipeline.domain.enums import ExecutionStatus, JobType, ResultStatus


class DuplicateName(Exception):
    """A config of that job type and name exists already (uq_interest_batch_config_job_type_name)."""


@dataclass(frozen=True)
class ConfigRow:
    id: int
    job_type: str
    name: str
    batch_size: int
    parallel_threads: int
    max_retries: int
    retry_interval_seconds: int
    timeout_seconds: int
    account_types: list[str]
    custom_parameters: dict[str, Any]
    cron_expression: str
    enabled: bool
    description: str | None
    created_at: datetime
    updated_at: datetime
    created_by: str | None
    updated_by: str | None


@dataclass(frozen=True)
class ResultRow:
    execution_id: str
    account_id: int
    account_number: str | None
    job_type: str
    business_date: date
    status: str
    amount: Decimal | None
    previous_amount: Decimal | None
    currency: str | None
    reason: str | None
    error_message: str | None
    processing_time_ms: Decimal | None
    created_at: datetime


@dataclass(frozen=True)
class Summary:
    total_accounts_processed: int
    failed_accounts: int
    # Posting executions' totals per currency: exact sums of their decimal strings.
    interest_posted: dict[str, Decimal]
    avg_processing_time_ms: Decimal | None
    running_jobs: int
    last_completed: ExecutionRow | None


@dataclass(frozen=True)
class TokenRow:
    name: str
    role: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


# --- configurations ---------------------------------------------------------------------------

CONFIG_COLUMNS = columns_of(CONFIG, ConfigRow)


def list_configs(conn: Connection) -> list[ConfigRow]:
    rows = conn.execute(select(*CONFIG_COLUMNS).order_by(CONFIG.c.job_type, CONFIG.c.id)).mappings()
    return [typed(ConfigRow, r) for r in rows]


def get_config(conn: Connection, config_id: int) -> ConfigRow | None:
    row = conn.execute(select(*CONFIG_COLUMNS).where(CONFIG.c.id == config_id)).mappings().first()
    return typed(ConfigRow, row) if row else None


@contextmanager
def _name_unique(conn: Connection, values: Mapping[str, Any]) -> Iterator[None]:
    """A config row's write in a savepoint: a name its job type has already is DuplicateName, and
    the caller's transaction goes on (only the savepoint is rolled back)."""
    try:
        with conn.begin_nested():
            yield
    except IntegrityError as error:
        if "uq_interest_batch_config_job_type_name" in str(error.orig):
            raise DuplicateName(values.get("name")) from error
        raise


def insert_config(conn: Connection, values: Mapping[str, Any], by: str) -> ConfigRow:
    with _name_unique(conn, values):
        row = (
            conn.execute(
                insert(CONFIG).values(**values, created_by=by, updated_by=by).returning(*CONFIG_COLUMNS)
            )
            .mappings()
            .one()
        )
    return typed(ConfigRow, row)


def update_config(conn: Connection, config_id: int, values: Mapping[str, Any], by: str) -> ConfigRow | None:
    with _name_unique(conn, values):
        row = (
            conn.execute(
                update(CONFIG)
                .where(CONFIG.c.id == config_id)
                .values(**values, updated_by=by, updated_at=func.clock_timestamp())
                .returning(*CONFIG_COLUMNS)
            )
            .mappings()
            .first()
        )
    return typed(ConfigRow, row) if row else None


# --- executions and results -------------------------------------------------------------------


def get_execution(conn: Connection, execution_id: str) -> ExecutionRow | None:
    row = conn.execute(select(*EXECUTION_COLUMNS).where(EXECUTION.c.id == execution_id)).mappings().first()
    return typed(ExecutionRow, row) if row else None


def list_executions(
    conn: Connection,
    *,
    job_type: str | None,
    status: str | None,
    date_from: date | None,
    date_to: date | None,
    limit: int,
    offset: int,
) -> tuple[list[ExecutionRow], int]:
    """A page, newest first (started_at, then id for a stable order), and the filter's total count."""
    conditions = []
    if job_type is not None:
        conditions.append(EXECUTION.c.job_type == job_type)
    if status is not None:
        conditions.append(EXECUTION.c.status == status)
    if date_from is not None:
        conditions.append(EXECUTION.c.business_date >= date_from)
    if date_to is not None:
        conditions.append(EXECUTION.c.business_date <= date_to)
    where = and_(True, *conditions)
    page = conn.execute(
        select(*EXECUTION_COLUMNS)
        .where(where)
        .order_by(EXECUTION.c.started_at.desc(), EXECUTION.c.id.desc())
        .limit(limit)
        .offset(offset)
    ).mappings()
    rows = [typed(ExecutionRow, r) for r in page]
    total = conn.execute(select(func.count()).select_from(EXECUTION).where(where)).scalar_one()
    return rows, total


def list_results(
    conn: Connection,
    *,
    execution_id: str,
    status: str | None,
    account_id: int | None,
    limit: int,
    offset: int,
) -> tuple[list[ResultRow], int]:
    """A page of one execution's results in account order, with the account number, and the count.

    A status other than SUCCESS reads ix_interest_batch_account_result_execution_not_success only.
    The page's keys are found first, off the result log's key alone, and only its `limit` rows are
    read whole and joined to their accounts: a page at offset N otherwise read N result rows and
    probed `accounts` for each of them before skipping them (docs/benchmarks.md, operations API).
    """
    conditions = [RESULT.c.execution_id == execution_id]
    if status is not None:
        conditions.append(RESULT.c.status == status)
        if status != ResultStatus.SUCCESS:
            # Spelt out so the planner can match the partial index's predicate.
            conditions.append(RESULT.c.status != ResultStatus.SUCCESS.value)
    if account_id is not None:
        conditions.append(RESULT.c.account_id == account_id)
    where = and_(*conditions)
    key = [RESULT.c.execution_id, RESULT.c.account_id, RESULT.c.business_date]
    keys = (
        select(*key)
        .where(where)
        .order_by(RESULT.c.account_id, RESULT.c.business_date)
        .limit(limit)
        .offset(offset)
        .subquery("page_keys")
    )
    columns = [RESULT.c[f.name] for f in fields(ResultRow) if f.name != "account_number"]
    page = conn.execute(
        select(*columns, ACCOUNT.c.account_number)
        .select_from(
            keys.join(RESULT, and_(*(keys.c[c.name] == c for c in key))).outerjoin(
                ACCOUNT, ACCOUNT.c.id == RESULT.c.account_id
            )
        )
        .order_by(keys.c.account_id, keys.c.business_date)
    ).mappings()
    rows = [typed(ResultRow, r) for r in page]
    total = conn.execute(select(func.count()).select_from(RESULT).where(where)).scalar_one()
    return rows, total


def summary(conn: Connection, day_start: datetime, day_end: datetime) -> Summary:
    """Executions started in [day_start, day_end) (today in the business timezone)."""
    today = and_(EXECUTION.c.started_at >= day_start, EXECUTION.c.started_at < day_end)
    counts = conn.execute(
        select(
            func.coalesce(func.sum(EXECUTION.c.accounts_processed), 0),
            func.coalesce(func.sum(EXECUTION.c.accounts_failed), 0),
            # Wall time per processed account of today's finished executions, in ms.
            (
                func.sum(
                    func.extract("epoch", EXECUTION.c.completed_at - EXECUTION.c.started_at) * 1000
                ).filter(EXECUTION.c.completed_at.is_not(None))
                / func.nullif(
                    func.sum(EXECUTION.c.accounts_processed).filter(EXECUTION.c.completed_at.is_not(None)), 0
                )
            ),
        ).where(today)
    ).one()
    each = func.jsonb_each_text(EXECUTION.c.totals_by_currency).table_valued("key", "value").alias("t")
    posted = conn.execute(
        select(each.c.key, func.sum(cast(each.c.value, Numeric)))
        .select_from(EXECUTION.join(each, literal_column("true")))
        .where(today, EXECUTION.c.job_type == JobType.INTEREST_POSTING.value)
        .group_by(each.c.key)
        .order_by(each.c.key)
    ).all()
    running = conn.execute(
        select(func.count()).select_from(EXECUTION).where(EXECUTION.c.status == ExecutionStatus.RUNNING.value)
    ).scalar_one()
    last = (
        conn.execute(
            select(*EXECUTION_COLUMNS)
            .where(EXECUTION.c.completed_at.is_not(None))
            .order_by(EXECUTION.c.completed_at.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    average = counts[2]
    return Summary(
        total_accounts_processed=int(counts[0]),
        failed_accounts=int(counts[1]),
        interest_posted={key: Decimal(amount) for key, amount in posted},
        avg_processing_time_ms=Decimal(average).quantize(Decimal("0.001")) if average is not None else None,
        running_jobs=running,
        last_completed=typed(ExecutionRow, last) if last else None,
    )


def unknown_account_ids(conn: Connection, account_ids: Sequence[int]) -> list[int]:
    known = set(conn.execute(select(ACCOUNT.c.id).where(ACCOUNT.c.id.in_(account_ids))).scalars())
    return sorted(set(account_ids) - known)


# --- tokens -------------------------------------------------------------------------------------


class DuplicateToken(Exception):
    """A token of that name exists already (revoked ones too: names stay unique for the audit)."""


def create_token(conn: Connection, name: str, role: str, sha256: str) -> None:
    try:
        with conn.begin_nested():
            conn.execute(insert(TOKEN).values(name=name, role=role, token_sha256=sha256))
    except IntegrityError as error:
        raise DuplicateToken(name) from error


def list_tokens(conn: Connection) -> list[TokenRow]:
    rows = conn.execute(select(*columns_of(TOKEN, TokenRow)).order_by(TOKEN.c.name)).mappings()
    return [typed(TokenRow, r) for r in rows]


def revoke_token(conn: Connection, name: str) -> bool:
    """True when a live token of that name was revoked."""
    done = conn.execute(
        update(TOKEN)
        .where(TOKEN.c.name == name, TOKEN.c.revoked_at.is_(None))
        .values(revoked_at=func.clock_timestamp())
    )
    return done.rowcount == 1


def use_token(conn: Connection, sha256: str) -> tuple[str, str] | None:
    """(name, role) of the live token with this hash, recording its use; None if unknown or revoked."""
    row = conn.execute(
        update(TOKEN)
        .where(TOKEN.c.token_sha256 == sha256, TOKEN.c.revoked_at.is_(None))
        .values(last_used_at=func.clock_timestamp())
        .returning(TOKEN.c.name, TOKEN.c.role)
    ).first()
    return (row[0], row[1]) if row else None

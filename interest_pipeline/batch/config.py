"""A batch job's configuration: its `interest_batch_config` row with the run's config merged over it.

Validation happens here, before anything is written, so a run with bad input leaves no trace
in the execution tables and fails with a message naming every problem at once.
The rows are read by SQLAlchemy Core statements over `db.tables`, on the caller's psycopg
connection (`db.core`).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import dagster as dg
import psycopg
from sqlalchemy import BigInteger, bindparam, exists, func, select
from sqlalchemy.dialects.postgresql import ARRAY

from interest_pipeline.db import core
from interest_pipeline.db.tables import ACCOUNT, CONFIG
from interest_pipeline.domain.enums import AccountType, JobType, values

ACCOUNT_TYPES = values(AccountType)
# A chunk is one transaction; beyond this a single chunk's locks and WAL get unwieldy.
MAX_BATCH_SIZE = 1_000_000
MAX_ACCOUNT_IDS = 100_000
# Each job's planning op, whose config is the job's BatchRunConfig (what a launcher's run config sets).
PLAN_OPS = {
    JobType.DAILY_INTEREST_ACCRUAL.value: "plan_accrual",
    JobType.INTEREST_POSTING.value: "plan_posting",
}
# The row a run uses when it names no config (migration 0008 named the seeded rows so).
DEFAULT_CONFIG_NAME = "default"


class BatchConfigError(ValueError):
    """The job's configuration (row or run config) is unusable; nothing has been written."""


class BatchRunConfig(dg.Config):
    """Per-run overrides; every field left unset falls back to the job's interest_batch_config row."""

    account_ids: list[int] | None = None
    include_dormant_accounts: bool | None = None
    process_failed_accounts_first: bool | None = None
    batch_size: int | None = None
    account_types: list[str] | None = None
    # An interest_batch_config row of the job's type; unset: the job's 'default' row.
    config_id: int | None = None


@dataclass(frozen=True)
class JobTuning:
    """How a job's run is cut and retried: what a config row stores and a run goes by (its fields
    lead both, in this order, so JOB_CONFIG_COLUMNS and the keyword constructions keep theirs)."""

    job_type: str
    batch_size: int
    parallel_threads: int
    max_retries: int
    retry_interval_seconds: int
    timeout_seconds: int
    account_types: tuple[str, ...]


@dataclass(frozen=True)
class JobConfigRow(JobTuning):
    """One `interest_batch_config` row."""

    custom_parameters: Mapping[str, Any]
    cron_expression: str
    enabled: bool
    config_id: int | None = None
    name: str = DEFAULT_CONFIG_NAME


# The row's fields are the table's columns, but for config_id (the row's id).
JOB_CONFIG_COLUMNS = [
    CONFIG.c.id.label("config_id") if name == "config_id" else CONFIG.c[name]
    for name in core.field_names(JobConfigRow)
]


@dataclass(frozen=True)
class EffectiveConfig(JobTuning):
    """What a run actually does: the row's defaults with the run's overrides applied."""

    include_dormant: bool
    process_failed_first: bool
    account_ids: tuple[int, ...] | None

    def parameters(self) -> dict[str, Any]:
        """The execution row's `parameters` (JSON): everything the run was told, after merging."""
        return {
            "batch_size": self.batch_size,
            "parallel_threads": self.parallel_threads,
            "max_retries": self.max_retries,
            "retry_interval_seconds": self.retry_interval_seconds,
            "timeout_seconds": self.timeout_seconds,
            "account_types": list(self.account_types),
            "include_dormant_accounts": self.include_dormant,
            "process_failed_accounts_first": self.process_failed_first,
            "account_ids": list(self.account_ids) if self.account_ids is not None else None,
        }


def load_job_config(conn: psycopg.Connection, job_type: str, config_id: int | None = None) -> JobConfigRow:
    """The job's row `config_id` (which must be of this job type), or its 'default' row when None."""
    c = CONFIG.c
    query = select(*JOB_CONFIG_COLUMNS).where(c.job_type == job_type)
    if config_id is None:
        row = core.fetch_one(conn, query.where(c.name == DEFAULT_CONFIG_NAME), JobConfigRow)
        if row is None:
            raise BatchConfigError(
                f"no interest_batch_config row for job type {job_type!r} named {DEFAULT_CONFIG_NAME!r}"
            )
    else:
        row = core.fetch_one(conn, query.where(c.id == config_id), JobConfigRow)
        if row is None:
            raise BatchConfigError(f"no interest_batch_config row {config_id} for job type {job_type!r}")
    return replace(row, custom_parameters=row.custom_parameters or {})


def _flag(name: str, run_value: bool | None, row: JobConfigRow, errors: list[str]) -> bool:
    if run_value is not None:
        return run_value
    stored = row.custom_parameters.get(name, False)
    if not isinstance(stored, bool):
        errors.append(f"interest_batch_config.custom_parameters.{name} must be true or false, got {stored!r}")
        return False
    return stored


def _account_types(requested: Sequence[str] | None, row: JobConfigRow, errors: list[str]) -> tuple[str, ...]:
    types = tuple(requested) if requested is not None else row.account_types
    unknown = sorted({t for t in types if t not in ACCOUNT_TYPES})
    if unknown:
        allowed = ", ".join(ACCOUNT_TYPES)
        errors.append(f"account_types: unknown {', '.join(map(repr, unknown))} (allowed: {allowed})")
    if not types:
        errors.append("account_types must name at least one account type")
    # Canonical order, so two runs with the same scope record the same array.
    return tuple(t for t in ACCOUNT_TYPES if t in types)


def _account_ids(requested: Sequence[int] | None, errors: list[str]) -> tuple[int, ...] | None:
    if requested is None:
        return None
    if not requested:
        errors.append("account_ids must not be empty (leave it unset to process every account)")
    if len(requested) > MAX_ACCOUNT_IDS:
        errors.append(f"account_ids: at most {MAX_ACCOUNT_IDS} ids, got {len(requested)}")
    bad = sorted({i for i in requested if i <= 0})
    if bad:
        errors.append(f"account_ids must be positive, got {', '.join(map(str, bad[:10]))}")
    return tuple(sorted(set(requested)))


def merge_config(row: JobConfigRow, run: BatchRunConfig) -> EffectiveConfig:
    """The run's config over the job's row; BatchConfigError listing every problem found."""
    errors: list[str] = []
    batch_size = run.batch_size if run.batch_size is not None else row.batch_size
    if not 0 < batch_size <= MAX_BATCH_SIZE:
        errors.append(f"batch_size must be between 1 and {MAX_BATCH_SIZE}, got {batch_size}")
    account_types = _account_types(run.account_types, row, errors)
    account_ids = _account_ids(run.account_ids, errors)
    include_dormant = _flag("include_dormant_accounts", run.include_dormant_accounts, row, errors)
    failed_first = _flag("process_failed_accounts_first", run.process_failed_accounts_first, row, errors)
    if errors:
        raise BatchConfigError(f"invalid configuration for {row.job_type}: " + "; ".join(errors))
    return EffectiveConfig(
        job_type=row.job_type,
        batch_size=batch_size,
        parallel_threads=row.parallel_threads,
        max_retries=row.max_retries,
        retry_interval_seconds=row.retry_interval_seconds,
        timeout_seconds=row.timeout_seconds,
        account_types=account_types,
        include_dormant=include_dormant,
        process_failed_first=failed_first,
        account_ids=account_ids,
    )


@dataclass(frozen=True)
class ConfigSchedule:
    """What a config row says about when its job runs."""

    id: int
    job_type: str
    cron_expression: str
    enabled: bool
    timeout_seconds: int = 3600


def config_schedules(conn: psycopg.Connection, job_type: str) -> list[ConfigSchedule]:
    """Every config row of the job type (enabled or not), by id: each drives its own ticks."""
    return core.fetch_all(
        conn,
        select(*core.columns_of(CONFIG, ConfigSchedule))
        .where(CONFIG.c.job_type == job_type)
        .order_by(CONFIG.c.id),
        ConfigSchedule,
    )


@dataclass(frozen=True)
class AccountId:
    id: int


def missing_accounts(conn: psycopg.Connection, account_ids: Sequence[int]) -> list[int]:
    """The ids among `account_ids` that no account has, in order: a run naming them is refused."""
    wanted = (
        func.unnest(bindparam("ids", list(account_ids), type_=ARRAY(BigInteger)))
        .table_valued("id")
        .render_derived()
    )
    rows = core.fetch_all(
        conn,
        select(wanted.c.id).where(~exists().where(ACCOUNT.c.id == wanted.c.id)).order_by(wanted.c.id),
        AccountId,
    )
    return [r.id for r in rows]

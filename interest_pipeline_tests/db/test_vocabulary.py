"""The database's CHECK constraints allow exactly the domain's vocabularies, and the loader parses with them.

The enums in `domain/enums.py` are the one place the vocabularies are written; the models build
their checks from them and the migrations must have created the same lists. A value added to an
enum without a migration (or the reverse) fails here.
"""

import re
from enum import StrEnum

import psycopg
import pytest
from sqlalchemy.engine import URL

from interest_pipeline.batch.config import ACCOUNT_TYPES
from interest_pipeline.data.load import InvalidValue, one_of
from interest_pipeline.domain.enums import (
    AccountStatus,
    AccountType,
    AccrualStatus,
    DayCount,
    ExecutionStatus,
    ExecutionTrigger,
    JobType,
    PostingFrequency,
    ResultStatus,
    TierMode,
    values,
)
from interest_pipeline.settings import libpq_url

CHECKED = [
    ("interest_products", "ck_interest_products_account_type", AccountType),
    ("interest_products", "ck_interest_products_day_count", DayCount),
    ("interest_products", "ck_interest_products_posting_frequency", PostingFrequency),
    ("interest_products", "ck_interest_products_tier_mode", TierMode),
    ("accounts", "ck_accounts_status", AccountStatus),
    ("interest_batch_config", "ck_interest_batch_config_job_type", JobType),
    ("interest_batch_config", "ck_interest_batch_config_account_types", AccountType),
    ("interest_batch_execution", "ck_interest_batch_execution_job_type", JobType),
    ("interest_batch_execution", "ck_interest_batch_execution_trigger", ExecutionTrigger),
    ("interest_batch_execution", "ck_interest_batch_execution_status", ExecutionStatus),
    ("interest_batch_account_result", "ck_interest_batch_account_result_job_type", JobType),
    ("interest_batch_account_result", "ck_interest_batch_account_result_status", ResultStatus),
    ("interest_batch_account_status", "ck_interest_batch_account_status_last_status", ResultStatus),
]


@pytest.mark.parametrize(("table", "constraint", "vocabulary"), CHECKED, ids=[c for _, c, _ in CHECKED])
def test_migrated_check_allows_exactly_the_vocabulary(
    database_url: URL, table: str, constraint: str, vocabulary: type[StrEnum]
) -> None:
    with psycopg.connect(libpq_url(database_url)) as conn:
        row = conn.execute(
            "SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c"
            " WHERE c.conrelid = %s::regclass AND c.conname = %s",
            (table, constraint),
        ).fetchone()
    assert row is not None, f"{constraint} is missing on {table}"
    allowed = re.findall(r"'([^']*)'::text", row[0])
    assert sorted(allowed) == sorted(values(vocabulary)), row[0]


@pytest.mark.parametrize("vocabulary", [AccountType, DayCount, PostingFrequency, TierMode, AccountStatus])
def test_loader_parses_each_value_of_the_vocabulary_and_nothing_else(vocabulary: type[StrEnum]) -> None:
    parse = one_of(vocabulary)
    assert [parse(v) for v in values(vocabulary)] == list(values(vocabulary))
    with pytest.raises(
        InvalidValue, match=r"'bogus' is not one of " + re.escape(", ".join(values(vocabulary)))
    ):
        parse("bogus")
    # the stored strings, exactly: no case folding
    with pytest.raises(InvalidValue):
        parse(values(vocabulary)[0].lower())


def test_job_config_accepts_the_account_types_of_the_domain() -> None:
    assert ACCOUNT_TYPES == ("SAVINGS", "FIXED_DEPOSIT", "RECURRING_DEPOSIT") == values(AccountType)


def test_the_accruals_view_derives_exactly_the_accrual_statuses(database_url: URL) -> None:
    """interest_accruals.status is derived (migration 0011): its CASE yields the vocabulary's values."""
    with psycopg.connect(libpq_url(database_url)) as conn:
        row = conn.execute("SELECT pg_get_viewdef('interest_accruals'::regclass)").fetchone()
    assert row is not None
    [status_case] = re.findall(r"CASE\s+WHEN.*?END AS status", row[0], re.S)
    assert sorted(re.findall(r"'([A-Z_]+)'::text", status_case)) == sorted(values(AccrualStatus))

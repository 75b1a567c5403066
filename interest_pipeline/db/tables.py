"""The models' tables as SQLAlchemy Core `Table` handles, for the repositories' statements.

The ORM classes in `models.py` are the schema contract; data access (the jobs' repositories in
`batch/`, the reports, the API's `api/repository.py`) builds Core statements over these handles.
"""

from sqlalchemy import BigInteger, Column, Date, MetaData, Table, Text

from interest_pipeline.db.models import (
    Account,
    ApiToken,
    Carry,
    InterestAccrualEntry,
    InterestBatchAccountResult,
    InterestBatchConfig,
    InterestBatchExecution,
    InterestPosting,
    LedgerEntry,
    Money,
)

# `__table__` is typed as a FromClause; for a declarative model it is the Table itself.
ACCOUNT: Table = Account.__table__  # type: ignore[assignment]
ACCRUAL_ENTRY: Table = InterestAccrualEntry.__table__  # type: ignore[assignment]
POSTING: Table = InterestPosting.__table__  # type: ignore[assignment]
LEDGER: Table = LedgerEntry.__table__  # type: ignore[assignment]
CONFIG: Table = InterestBatchConfig.__table__  # type: ignore[assignment]
EXECUTION: Table = InterestBatchExecution.__table__  # type: ignore[assignment]
RESULT: Table = InterestBatchAccountResult.__table__  # type: ignore[assignment]
TOKEN: Table = ApiToken.__table__  # type: ignore[assignment]

# The view of spec section 4 over the entries (migration 0011): status, capitalization_date and
# posting_id derived from the postings. Its own MetaData: it is no table of the models' schema.
ACCRUAL: Table = Table(
    "interest_accruals",
    MetaData(),
    Column("account_id", BigInteger, primary_key=True),
    Column("accrual_date", Date, primary_key=True),
    Column("balance", Money),
    Column("amount", Carry),
    Column("status", Text),
    Column("capitalization_date", Date),
    Column("posting_id", BigInteger),
    Column("execution_id", Text),
    Column("write_seq", BigInteger),
)

"""The models' tables as SQLAlchemy Core `Table` handles, for the repositories' statements.

The ORM classes in `models.py` are the schema contract; data access (the jobs' repositories in
`batch/`, the reports, the API's `api/repository.py`) builds Core statements over these handles.
"""

from sqlalchemy import Table

from interest_pipeline.db.models import (
    Account,
    ApiToken,
    InterestAccrual,
    InterestBatchAccountResult,
    InterestBatchConfig,
    InterestBatchExecution,
    InterestPosting,
    LedgerEntry,
)

# `__table__` is typed as a FromClause; for a declarative model it is the Table itself.
ACCOUNT: Table = Account.__table__  # type: ignore[assignment]
ACCRUAL: Table = InterestAccrual.__table__  # type: ignore[assignment]
POSTING: Table = InterestPosting.__table__  # type: ignore[assignment]
LEDGER: Table = LedgerEntry.__table__  # type: ignore[assignment]
CONFIG: Table = InterestBatchConfig.__table__  # type: ignore[assignment]
EXECUTION: Table = InterestBatchExecution.__table__  # type: ignore[assignment]
RESULT: Table = InterestBatchAccountResult.__table__  # type: ignore[assignment]
TOKEN: Table = ApiToken.__table__  # type: ignore[assignment]

"""Imported by the step forkserver (batch.executor) so that forked step processes start warm.

These are the modules a step process otherwise imports for itself before running a line of
its op: `DagsterInstance.from_ref` loads the instance's storage classes lazily, and with them
dagster-postgres, psycopg2, alembic, rich, upath and more (found by diffing `sys.modules` around
`from_ref`; interest_pipeline_tests/batch/test_executor.py keeps the list honest). Imported by
name: several have no type stubs, and the list is what the test checks.
"""

import importlib

STEP_MODULES = (
    "alembic.command",
    "dagster._core.instance.factory",
    "dagster._core.secrets.env_file",
    "dagster._core.storage.event_log.schema",
    "dagster._core.storage.root",
    "dagster._daemon",
    "dagster._grpc",
    "dagster._scheduler",
    "dagster_postgres",
    "dotenv",
    "fsspec.implementations.local",
    "psycopg2.extras",
    "upath.implementations.local",
)

for _name in STEP_MODULES:
    importlib.import_module(_name)

"""Alembic environment: migrates the database named by the config (set by interest_pipeline.db.migrate)."""

from alembic import context
from sqlalchemy import create_engine, pool

from interest_pipeline.db.models import Base
from interest_pipeline.settings import database_url

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url") or database_url()
    version_table = config.get_main_option("version_table") or "interest_pipeline_alembic_version"
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table=version_table,
            compare_type=True,
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: run against a database")
run_migrations_online()

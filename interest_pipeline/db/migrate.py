"""Alembic, driven from code so that the CLI and the tests use the very same migrations."""

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine
from sqlalchemy.engine import URL

from interest_pipeline.settings import database_url, package_path, sqlalchemy_url

# Shipped in the package, so a wheel install migrates as an editable one does.
MIGRATIONS_DIR = package_path("migrations")
VERSION_TABLE = "interest_pipeline_alembic_version"


def alembic_config(url: str | URL | None = None) -> Config:
    target = sqlalchemy_url(url) if url is not None else database_url()
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation would choke on the %2F of a socket path.
    config.set_main_option("sqlalchemy.url", target.render_as_string(hide_password=False).replace("%", "%%"))
    config.set_main_option("version_table", VERSION_TABLE)
    return config


def upgrade(url: str | URL | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str | URL | None = None, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def current_revision(url: str | URL | None = None) -> str | None:
    target = sqlalchemy_url(url) if url is not None else database_url()
    engine = create_engine(target)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
            return context.get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    """The newest revision the shipped migrations define (what `upgrade head` reaches)."""
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config).get_current_head()


def known_revision(revision: str) -> bool:
    """Whether `revision` names a revision (or head/base/a relative step) of the shipped migrations."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    try:
        ScriptDirectory.from_config(config).get_revisions(revision)
    except (CommandError, KeyError, ValueError):
        return False
    return True

"""Shared fixtures: one fresh, migrated database per test run, emptied before each test that asks."""

import os
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL

from interest_pipeline.settings import DATABASE_URL_ENV, forget_settings, libpq_url
from interest_pipeline_tests.support.database import fresh_database, reset_data, seeded_config

# The pair whose --dist loadgroup drops every xdist_group mark without a word: pytest 9.2 derives a
# node's id from a field pytest-xdist 3.8 does not set (pytest-dev/pytest-xdist#1386).
GROUPING_BROKEN_SINCE_PYTEST = (9, 2)
GROUPING_BROKEN_UP_TO_XDIST = (3, 8)


def _version(text: str) -> tuple[int, int]:
    major, minor = text.split(".")[:2]
    return int(major), int("".join(c for c in minor if c.isdigit()) or 0)


def grouping_broken(pytest_version: str, xdist_version: str) -> bool:
    return (
        _version(pytest_version) >= GROUPING_BROKEN_SINCE_PYTEST
        and _version(xdist_version) <= GROUPING_BROKEN_UP_TO_XDIST
    )


def pytest_configure(config: pytest.Config) -> None:
    """Refuse to run a grouped session that would not be grouped. The servers of a group (the API
    stack; Celery workers with named queues, which RabbitMQ refuses twice) and the books its
    modules build start once, on one worker; ungrouped, both workers start them (the suite ran
    19:40 against 12:05 grouped, both beside the same benchmark, 2026-12-03)."""
    if config.getoption("dist", "no") != "loadgroup":
        return
    import xdist

    if grouping_broken(pytest.__version__, xdist.__version__):
        raise pytest.UsageError(
            f"pytest {pytest.__version__} with pytest-xdist {xdist.__version__} ignores xdist_group marks "
            "under --dist loadgroup (pytest-dev/pytest-xdist#1386): install the versions pyproject.toml "
            "pins (bash scripts/test does)"
        )


@pytest.fixture(autouse=True)
def _settings_read_per_test() -> Iterator[None]:
    """The product reads its settings once per process; tests change the environment between
    cases, so each starts (and ends) with none loaded: the first use reads that test's environment.
    Function-scoped, so it runs after the session fixtures have set INTEREST_DATABASE_URL."""
    forget_settings()
    yield
    forget_settings()


@pytest.fixture(scope="session")
def database_url() -> Iterator[URL]:
    """The run's own database; code under test finds it through INTEREST_DATABASE_URL."""
    with fresh_database() as url:
        previous = os.environ.get(DATABASE_URL_ENV)
        os.environ[DATABASE_URL_ENV] = url.render_as_string(hide_password=False)
        forget_settings()  # any loaded before (collection imports the definitions) lack the URL
        try:
            yield url
        finally:
            if previous is None:
                os.environ.pop(DATABASE_URL_ENV, None)
            else:
                os.environ[DATABASE_URL_ENV] = previous
            forget_settings()


@pytest.fixture(scope="session")
def _seeded_config(database_url: URL) -> list[tuple[object, ...]]:
    return seeded_config(database_url)


@pytest.fixture
def clean_db(database_url: URL, _seeded_config: list[tuple[object, ...]]) -> URL:
    """The run's database with every data table empty and the seeded config restored."""
    reset_data(database_url, _seeded_config)
    return database_url


@pytest.fixture(scope="session")
def engine(database_url: URL) -> Iterator[Engine]:
    eng = create_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def conn(clean_db: URL) -> Iterator[psycopg.Connection]:
    """A psycopg connection (autocommit) to the emptied database."""
    with psycopg.connect(libpq_url(clean_db), autocommit=True) as connection:
        yield connection

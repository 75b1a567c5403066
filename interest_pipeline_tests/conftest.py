"""Shared fixtures: one fresh, migrated database per test run, emptied before each test that asks."""

import os
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL

from interest_pipeline.settings import DATABASE_URL_ENV, forget_settings, libpq_url
from interest_pipeline_tests.support.database import fresh_database, reset_data, seeded_config


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

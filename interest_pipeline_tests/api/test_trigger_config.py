"""What a trigger submits to Dagster (run config and tags), with a fake in place of Dagster's GraphQL."""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL

from interest_pipeline.api.app import ApiService
from interest_pipeline.api.auth import Principal
from interest_pipeline_tests.accrual.book import Book


@dataclass
class FakeDagsterRuns:
    """Records what would have been sent to Dagster; every run is QUEUED."""

    launched: list[tuple[str, Mapping[str, Any], Mapping[str, str]]] = field(default_factory=list)

    def launch(self, job_name: str, run_config: Mapping[str, Any], tags: Mapping[str, str]) -> str:
        self.launched.append((job_name, run_config, tags))
        return f"fake-run-{len(self.launched)}"

    def status(self, run_id: str) -> str | None:
        return "QUEUED"

    def terminate(self, run_id: str) -> None:
        raise AssertionError("not expected")

    def add_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        raise AssertionError("not expected")

    def run_url(self, run_id: str) -> str:
        return f"http://dagster.invalid/runs/{run_id}"


@pytest.fixture
def api_engine(clean_db: URL) -> Iterator[Engine]:
    engine = create_engine(clean_db)
    yield engine
    engine.dispose()


TRIGGER = """mutation { triggerInterestBatchJob(input: {jobType: "interest_posting", businessDate: "2025-03-31",
  accountIds: ["7", "5", "7"], parameters: {include_dormant_accounts: true, logging_level: "DEBUG",
  batch_size: 250}}) { id status configId dagsterRunUrl } }"""


def test_run_config_and_tags_sent_to_dagster(api_engine: Engine, conn: psycopg.Connection) -> None:
    book = Book(conn)
    book.product("SAV", tiers=[("2020-01-01", "0", "1")])
    book.account(5, "SAV")
    book.account(7, "SAV")
    default = conn.execute(
        "SELECT id FROM interest_batch_config WHERE job_type = 'interest_posting' AND name = 'default'"
    ).fetchone()
    assert default is not None
    fake = FakeDagsterRuns()
    service = ApiService(engine=api_engine, dagster=fake)
    result = service.execute(Principal(name="ops-admin", role="admin"), {"query": TRIGGER})
    assert result == {
        "data": {
            "triggerInterestBatchJob": {
                "id": "fake-run-1",
                "status": "QUEUED",
                "configId": str(default[0]),
                "dagsterRunUrl": "http://dagster.invalid/runs/fake-run-1",
            }
        }
    }
    assert fake.launched == [
        (
            "interest_posting",
            {
                "ops": {
                    "plan_posting": {
                        "config": {
                            "include_dormant_accounts": True,
                            "batch_size": 250,
                            "config_id": default[0],
                            "account_ids": [5, 7],
                        }
                    }
                },
                "loggers": {"console": {"config": {"log_level": "DEBUG"}}},
            },
            {
                "dagster/partition": "2025-03-31",
                "interest_pipeline/config_id": str(default[0]),
                "interest_pipeline/triggered_by": "ops-admin",
            },
        )
    ]


def test_an_unexpected_error_is_masked(api_engine: Engine) -> None:
    class Broken(FakeDagsterRuns):
        def launch(self, job_name: str, run_config: Mapping[str, Any], tags: Mapping[str, str]) -> str:
            raise KeyError("secret internals")

    service = ApiService(engine=api_engine, dagster=Broken())
    result = service.execute(
        Principal(name="ops-admin", role="admin"),
        {"query": 'mutation { triggerInterestBatchJob(input: {jobType: "interest_posting"}) { id } }'},
    )
    assert result["errors"][0]["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert "secret" not in str(result)

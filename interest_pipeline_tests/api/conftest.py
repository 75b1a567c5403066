"""The API's end-to-end fixtures: real Dagster webserver and daemon, the API, tokens made by the CLI.

All session-scoped (one stack per test session and xdist worker, on the worker's own database);
e2e modules carry `pytest.mark.xdist_group("api-e2e")` so that with `--dist loadgroup` one worker
starts the stack once.
"""

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from gql import Client, gql
from gql.transport.requests import RequestsHTTPTransport
from sqlalchemy.engine import URL

from interest_pipeline.api.auth import sign_jwt
from interest_pipeline.settings import libpq_url
from interest_pipeline_tests.support.servers import (
    dagster_environment,
    interest_pipeline_cli,
    start_api,
    start_dagster,
)

JWT_SECRET = "test-secret-for-hs256-0123456789abcdef"


@dataclass
class Stack:
    api_url: str
    dagster_url: str
    env: dict[str, str]
    tokens: dict[str, str]
    database_url: URL

    def client(self, token: str | None = None, url: str | None = None) -> Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        transport = RequestsHTTPTransport(url=url or self.api_url, headers=headers, timeout=120)
        return Client(transport=transport, fetch_schema_from_transport=False)

    def execute(
        self, token: str | None, query: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        result: dict[str, Any] = self.client(token).execute(gql(query), variable_values=variables)
        return result

    def dagster(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self.client(url=self.dagster_url).execute(
            gql(query), variable_values=variables
        )
        return result

    def jwt(
        self, role: str, subject: str = "hasura-user", expires_in: int = 600, secret: str = JWT_SECRET
    ) -> str:
        claims = {"x-hasura-default-role": role, "x-hasura-allowed-roles": [role]}
        payload = {
            "sub": subject,
            "exp": int(time.time()) + expires_in,
            "https://hasura.io/jwt/claims": claims,
        }
        return sign_jwt(payload, secret)

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(libpq_url(self.database_url), autocommit=True)


def _token(env: dict[str, str], name: str, role: str) -> str:
    done = interest_pipeline_cli(env, "api", "token", "create", "--name", name, "--role", role)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="session")
def stack(database_url: URL, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("api-home")
    logs: Path = home / "logs"
    extra = {"INTEREST_API_JWT_SECRET": JWT_SECRET, "INTEREST_STEP_PROCESSES": "2"}
    with dagster_environment(database_url.render_as_string(hide_password=False), home, extra) as env:
        dagster = start_dagster(env, logs)
        try:
            api, api_url = start_api(env, logs, dagster.graphql_url)
            try:
                tokens = {
                    "admin": _token(env, "ops-admin", "admin"),
                    "user": _token(env, "ops-viewer", "user"),
                    "revoked": _token(env, "ops-leaver", "admin"),
                }
                done = interest_pipeline_cli(env, "api", "token", "revoke", "ops-leaver")
                assert done.returncode == 0, done.stderr
                yield Stack(
                    api_url=api_url,
                    dagster_url=dagster.graphql_url,
                    env=env,
                    tokens=tokens,
                    database_url=database_url,
                )
            finally:
                api.stop()
        finally:
            dagster.stop()


@pytest.fixture
def api(stack: Stack, clean_db: URL) -> Stack:
    """The stack over an emptied database (seeded configs back, tokens kept)."""
    return stack


def wait_for(condition: Callable[[], Any], timeout: float = 180.0, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout} s")

"""Triggering and cancelling real Dagster runs through the API (gql client, real servers)."""

from decimal import Decimal
from typing import Any

import psycopg
import pytest

from interest_pipeline_tests.accrual.book import Book
from interest_pipeline_tests.api.conftest import Stack, wait_for

pytestmark = pytest.mark.xdist_group("api-e2e")

DAY = "2025-03-10"
# 3.65 % a year ACT/365F: 10,000.00 accrues exactly 1.0000000000 a day, 25,000.00 2.5000000000.
RATE = "3.65"

TRIGGER = """
mutation Trigger($input: TriggerInterestBatchJobInput!) {
  triggerInterestBatchJob(input: $input) { id jobType startedAt status businessDate configId dagsterRunUrl }
}
"""

EXECUTION = """
query Execution($id: ID!) {
  getInterestBatchExecution(id: $id) {
    id jobType businessDate trigger status startedAt completedAt totalAccounts succeededAccounts
    skippedAccounts failedAccounts totalsByCurrency totals { currency amount } errorMessage dagsterRunUrl
    accountIds
  }
}
"""


def make_book(conn: psycopg.Connection) -> Book:
    book = Book(conn)
    book.product("SAV", tiers=[("2020-01-01", "0", RATE)])
    book.account(101, "SAV", {"2025-01-01": "10000.00"})
    book.account(102, "SAV", {"2025-01-01": "25000.00"})
    book.account(103, "SAV", {"2025-01-01": "99999.00"})
    return book


def dagster_run(stack: Stack, run_id: str) -> dict[str, Any]:
    found = stack.dagster(
        """query Run($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status tags { key value } } } }""",
        {"id": run_id},
    )["runOrError"]
    assert found["__typename"] == "Run", found
    return {"status": found["status"], "tags": {t["key"]: t["value"] for t in found["tags"]}}


def finished_execution(stack: Stack, run_id: str, timeout: float = 240) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        try:
            row = stack.execute(stack.tokens["user"], EXECUTION, {"id": run_id})["getInterestBatchExecution"]
        except Exception:
            return None  # not opened yet: the run is still queued or starting
        return row if row["status"] != "RUNNING" else None

    result: dict[str, Any] = wait_for(done, timeout=timeout)
    return result


class TestTrigger:
    def test_accrual_for_two_accounts_runs_to_success_with_exact_amounts(self, api: Stack) -> None:
        with api.connect() as conn:
            book = make_book(conn)
            default_id = conn.execute(
                "SELECT id FROM interest_batch_config WHERE job_type = 'daily_interest_accrual' AND name = 'default'"
            ).fetchone()
        assert default_id is not None
        launched = api.execute(
            api.tokens["admin"],
            TRIGGER,
            {"input": {"jobType": "daily_interest_accrual", "businessDate": DAY, "accountIds": ["101", "102"]}},
        )["triggerInterestBatchJob"]
        assert launched["jobType"] == "daily_interest_accrual"
        assert launched["businessDate"] == DAY
        assert launched["configId"] == str(default_id[0])
        assert launched["status"] in {"QUEUED", "NOT_STARTED", "STARTING", "STARTED"}
        assert launched["dagsterRunUrl"].endswith(f"/runs/{launched['id']}")

        execution = finished_execution(api, launched["id"])
        assert execution["status"] == "SUCCESS"
        assert execution["trigger"] == "MANUAL"
        assert execution["totalAccounts"] == 2
        assert execution["succeededAccounts"] == 2
        assert execution["accountIds"] == ["101", "102"]
        assert execution["totalsByCurrency"] == {"USD": "3.5000000000"}
        assert execution["totals"] == [{"currency": "USD", "amount": "3.5000000000"}]
        with api.connect() as conn:
            accruals = Book(conn).accruals(DAY)
        assert accruals == {101: Decimal("1.0000000000"), 102: Decimal("2.5000000000")}
        del book

        run = wait_for(lambda: (r := dagster_run(api, launched["id"]))["status"] == "SUCCESS" and r)
        assert run["tags"]["dagster/partition"] == DAY
        assert run["tags"]["interest_pipeline/triggered_by"] == "ops-admin"
        assert run["tags"]["interest_pipeline/config_id"] == str(default_id[0])

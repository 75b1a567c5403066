"""The three Dagster GraphQL recipes of docs/api.md, run as written against the real webserver."""

from decimal import Decimal

import pytest

from interest_pipeline_tests.accrual.book import Book
from interest_pipeline_tests.api.conftest import Stack, wait_for
from interest_pipeline_tests.api.test_runs import RATE, dagster_run

pytestmark = pytest.mark.xdist_group("api-e2e")

# --- the recipes, as docs/api.md gives them ----------------------------------------------------

LAUNCH_BACKFILL = """
mutation Backfill($dates: [String!]!) {
  launchPartitionBackfill(backfillParams: {
    selector: {
      partitionSetName: "daily_interest_accrual_partition_set",
      repositorySelector: {repositoryLocationName: "interest_pipeline.definitions", repositoryName: "__repository__"}
    },
    partitionNames: $dates
  }) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}
"""

RUNS_OF_A_DATE = """
query RunsOfADate($date: String!) {
  runsOrError(filter: {tags: [{key: "dagster/partition", value: $date}]}) {
    ... on Runs { results { runId jobName status tags { key value } } }
  }
}
"""

TERMINATE = """
mutation Terminate($runId: String!) {
  terminateRun(runId: $runId) {
    __typename
    ... on TerminateRunSuccess { run { runId status } }
    ... on TerminateRunFailure { message }
    ... on RunNotFoundError { message }
  }
}
"""

MISSED = ["2025-04-01", "2025-04-02"]


class TestRecipes:
    def test_backfill_of_missed_dates_then_list_each_dates_runs(self, api: Stack) -> None:
        with api.connect() as conn:
            book = Book(conn)
            book.product("SAV", tiers=[("2020-01-01", "0", RATE)])
            book.account(301, "SAV", {"2025-01-01": "10000.00"})
        launched = api.dagster(LAUNCH_BACKFILL, {"dates": MISSED})["launchPartitionBackfill"]
        assert launched["__typename"] == "LaunchBackfillSuccess", launched

        def runs_done(date: str) -> list[dict[str, object]] | None:
            runs = api.dagster(RUNS_OF_A_DATE, {"date": date})["runsOrError"]["results"]
            return runs if runs and all(r["status"] == "SUCCESS" for r in runs) else None

        for date in MISSED:
            runs = wait_for(lambda date=date: runs_done(date), timeout=300)
            assert [r["jobName"] for r in runs] == ["daily_interest_accrual"]
            tags = {t["key"]: t["value"] for t in runs[0]["tags"]}
            assert tags["dagster/backfill"] == launched["backfillId"]
        with api.connect() as conn:
            rows = conn.execute(
                "SELECT business_date::text, trigger, status FROM interest_batch_execution ORDER BY business_date"
            ).fetchall()
            accrued = {d: Book(conn).accruals(d) for d in MISSED}
        assert rows == [(d, "BACKFILL", "SUCCESS") for d in MISSED]
        assert accrued == {key: {301: Decimal("1.0000000000")} for key in MISSED}

    def test_terminate_a_run(self, api: Stack) -> None:
        launched = api.execute(
            api.tokens["admin"],
            """mutation { triggerInterestBatchJob(input: {jobType: "daily_interest_accrual",
                          businessDate: "2025-04-03"}) { id } }""",
        )["triggerInterestBatchJob"]
        answer = api.dagster(TERMINATE, {"runId": launched["id"]})["terminateRun"]
        assert answer["__typename"] == "TerminateRunSuccess", answer
        assert answer["run"]["runId"] == launched["id"]
        wait_for(lambda: dagster_run(api, launched["id"])["status"] == "CANCELED", timeout=120)

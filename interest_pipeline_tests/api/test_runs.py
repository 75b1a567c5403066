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
            {
                "input": {
                    "jobType": "daily_interest_accrual",
                    "businessDate": DAY,
                    "accountIds": ["101", "102"],
                }
            },
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


CREATE_CONFIG = """
mutation Create($input: CreateInterestBatchConfigInput!) {
  createInterestBatchConfig(input: $input) { id name jobType batchSize parallelThreads createdBy updatedBy }
}
"""

CANCEL = """
mutation Cancel($id: ID!) {
  cancelInterestBatchExecution(id: $id) { id status chunksCompleted errorMessage completedAt }
}
"""


class TestCancel:
    def test_cancel_of_a_running_run_ends_cancelled_and_a_rerun_completes_it_exactly(
        self, api: Stack
    ) -> None:
        accounts = range(201, 207)
        with api.connect() as conn:
            book = Book(conn)
            book.product("SAV", tiers=[("2020-01-01", "0", RATE)])
            for account_id in accounts:
                book.account(account_id, "SAV", {"2025-01-01": "10000.00"})
        # One account per chunk, one chunk at a time: the run is stopped between two chunks.
        config = api.execute(
            api.tokens["admin"],
            CREATE_CONFIG,
            {
                "input": {
                    "jobType": "daily_interest_accrual",
                    "name": "one-at-a-time",
                    "batchSize": 1,
                    "parallelThreads": 1,
                    "cronExpression": "0 3 * * *",
                    "enabled": False,
                }
            },
        )["createInterestBatchConfig"]
        launched = api.execute(
            api.tokens["admin"],
            TRIGGER,
            {"input": {"jobType": "daily_interest_accrual", "businessDate": DAY, "configId": config["id"]}},
        )["triggerInterestBatchJob"]
        run_id = launched["id"]

        with api.connect() as blocker:
            # Take the run's only chunk slot (batch.lifecycle.acquire_slot) once a chunk has committed:
            # the next chunk then waits for it, and the run is RUNNING with some chunks done.
            def hold_slot_after_a_chunk() -> bool:
                row = blocker.execute(
                    "SELECT chunks_completed FROM interest_batch_execution WHERE id = %s", (run_id,)
                ).fetchone()
                if row is None or row[0] < 1:
                    return False
                got = blocker.execute(
                    "SELECT pg_try_advisory_lock(hashtext(%s), 0)", (f"slot:{run_id}",)
                ).fetchone()
                return bool(got and got[0])

            wait_for(hold_slot_after_a_chunk, timeout=240, every=0.02)
            before = blocker.execute(
                "SELECT status, chunks_completed, total_chunks FROM interest_batch_execution WHERE id = %s",
                (run_id,),
            ).fetchone()
            assert before is not None
            assert before[0] == "RUNNING"
            assert 1 <= before[1] < before[2] == 6

            cancelled = api.execute(api.tokens["admin"], CANCEL, {"id": run_id})[
                "cancelInterestBatchExecution"
            ]
            blocker.execute("SELECT pg_advisory_unlock(hashtext(%s), 0)", (f"slot:{run_id}",))

        assert cancelled["id"] == run_id
        assert cancelled["status"] == "CANCELLED"
        assert cancelled["completedAt"] is not None
        # Closed by the API once Dagster reported the run CANCELED, or first by the cancel sensor.
        assert cancelled["errorMessage"] in {
            "cancelled through the API by ops-admin",
            "the Dagster run was canceled",
        }
        run = dagster_run(api, run_id)
        assert run["status"] == "CANCELED"
        assert run["tags"]["interest_pipeline/cancelled_by"] == "ops-admin"

        with api.connect() as conn:
            after = conn.execute(
                "SELECT status, chunks_completed FROM interest_batch_execution WHERE id = %s", (run_id,)
            ).fetchone()
            committed = Book(conn).accruals(DAY)
        assert after is not None and after[0] == "CANCELLED"
        # What committed before the cancel stays, exactly; nothing after it.
        assert len(committed) == after[1] < 6
        assert set(committed.values()) == {Decimal("1.0000000000")}

        again = api.execute(
            api.tokens["admin"],
            TRIGGER,
            {"input": {"jobType": "daily_interest_accrual", "businessDate": DAY}},
        )["triggerInterestBatchJob"]
        rerun = finished_execution(api, again["id"])
        assert rerun["status"] == "SUCCESS"
        assert rerun["totalAccounts"] == 6
        with api.connect() as conn:
            accruals = Book(conn).accruals(DAY)
        assert accruals == dict.fromkeys(accounts, Decimal("1.0000000000"))

    def test_cancel_of_a_finished_execution_is_a_conflict_and_unknown_is_not_found(self, api: Stack) -> None:
        with api.connect() as conn:
            conn.execute(
                "INSERT INTO interest_batch_execution (id, job_type, business_date, trigger, status, account_types,"
                " completed_at) VALUES ('done-run', 'daily_interest_accrual', %s, 'MANUAL', 'SUCCESS',"
                " ARRAY['SAVINGS'], now())",
                (DAY,),
            )
        codes = []
        for run_id in ("done-run", "no-such-run"):
            with pytest.raises(Exception) as raised:
                api.execute(api.tokens["admin"], CANCEL, {"id": run_id})
            codes.append(raised.value.errors[0]["extensions"]["code"])  # type: ignore[attr-defined]
        assert codes == ["CONFLICT", "NOT_FOUND"]
        with api.connect() as conn:
            row = conn.execute("SELECT status FROM interest_batch_execution WHERE id = 'done-run'").fetchone()
        assert row == ("SUCCESS",)

"""Every query over real HTTP (gql), on executions and results written into the real database."""

import json
from datetime import UTC, datetime, time, timedelta
from typing import Any

import psycopg
import pytest
from gql.transport.exceptions import TransportQueryError

from interest_pipeline_tests.accrual.book import Book
from interest_pipeline_tests.api.conftest import Stack
from interest_pipeline_tests.api.reference_examples import ACCOUNT_RESULTS, SUMMARY, substitute

pytestmark = pytest.mark.xdist_group("api-e2e")

NOW = datetime.now(UTC)
TODAY_START = datetime.combine(NOW.date(), time(), UTC)


def today_at(fraction: float) -> datetime:
    """A moment of today so far (the business timezone is UTC here), whatever the time of the run."""
    return TODAY_START + (NOW - TODAY_START) * fraction


def add_execution(
    conn: psycopg.Connection,
    run_id: str,
    job_type: str,
    business_date: str,
    status: str,
    *,
    started: datetime,
    counts: tuple[int, int, int] = (0, 0, 0),
    totals: dict[str, str] | None = None,
    seconds: int = 10,
) -> None:
    succeeded, skipped, failed = counts
    completed = None if status == "RUNNING" else started + timedelta(seconds=seconds)
    conn.execute(
        "INSERT INTO interest_batch_execution (id, job_type, business_date, trigger, status, account_types,"
        " accounts_processed, accounts_succeeded, accounts_skipped, accounts_failed, totals_by_currency,"
        " started_at, completed_at, total_chunks, chunks_completed)"
        " VALUES (%s, %s, %s, 'SCHEDULE', %s, ARRAY['SAVINGS'], %s, %s, %s, %s, %s, %s, %s, 1, 1)",
        (
            run_id,
            job_type,
            business_date,
            status,
            succeeded + skipped + failed,
            succeeded,
            skipped,
            failed,
            json.dumps(totals or {}),
            started,
            completed,
        ),
    )


@pytest.fixture
def history(api: Stack) -> Stack:
    """Four executions (two today), and results of one of them with two FAILED accounts."""
    with api.connect() as conn:
        book = Book(conn)
        book.product("SAV", tiers=[("2020-01-01", "0", "3.65")])
        for account_id in (11, 12, 13, 14):
            book.account(account_id, "SAV", {"2025-01-01": "1000.00"})
        add_execution(
            conn,
            "old-accrual",
            "daily_interest_accrual",
            "2025-03-01",
            "SUCCESS",
            started=NOW - timedelta(days=3),
            counts=(4, 0, 0),
            totals={"USD": "0.4000000000"},
        )
        add_execution(
            conn,
            "old-posting",
            "interest_posting",
            "2025-03-01",
            "FAILED",
            started=NOW - timedelta(days=3, minutes=-5),
            totals={"USD": "1.00"},
        )
        add_execution(
            conn,
            "today-accrual",
            "daily_interest_accrual",
            "2025-03-02",
            "PARTIAL",
            started=today_at(0.5),
            counts=(2, 0, 2),
            totals={"USD": "0.2000000000"},
            seconds=8,
        )
        add_execution(
            conn,
            "today-posting",
            "interest_posting",
            "2025-03-02",
            "SUCCESS",
            started=today_at(0.6),
            counts=(4, 0, 0),
            totals={"USD": "292215.58", "JPY": "13460653"},
            seconds=2,
        )
        add_execution(
            conn,
            "now-running",
            "interest_posting",
            "2025-03-03",
            "RUNNING",
            started=today_at(0.9),
            totals={"USD": "0.42"},
        )
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO interest_batch_account_result (execution_id, account_id, job_type, business_date,"
                " status, amount, currency, reason, error_message, processing_time_ms)"
                " VALUES ('today-accrual', %s, 'daily_interest_accrual', '2025-03-02', %s, %s, 'USD', %s, %s, %s)",
                [
                    (11, "SUCCESS", "0.1000000000", None, None, "0.125"),
                    (12, "FAILED", None, "NO_RATE", "no rate tier for 2025-03-02", "0.125"),
                    (13, "SUCCESS", "0.1000000000", None, None, "0.125"),
                    (14, "FAILED", None, "NO_BALANCE", "no balance on or before 2025-03-02", "0.125"),
                ],
            )
    return api


def codes(error: pytest.ExceptionInfo[TransportQueryError]) -> list[tuple[str, Any]]:
    assert error.value.errors is not None
    return [(e["extensions"]["code"], e["extensions"].get("field")) for e in error.value.errors]


class TestConfigs:
    def test_every_column_of_every_config(self, api: Stack) -> None:
        configs = api.execute(
            api.tokens["user"],
            """{ getInterestBatchConfigs { id jobType name batchSize parallelThreads maxRetries
                 retryIntervalSeconds timeoutSeconds accountTypes parameters cronExpression enabled
                 createdAt updatedAt updatedBy } }""",
        )["getInterestBatchConfigs"]
        accrual = configs[0]
        assert {k: v for k, v in accrual.items() if k not in ("id", "createdAt", "updatedAt")} == {
            "jobType": "daily_interest_accrual",
            "name": "default",
            "batchSize": 250_000,
            "parallelThreads": 2,
            "maxRetries": 3,
            "retryIntervalSeconds": 60,
            "timeoutSeconds": 3600,
            "accountTypes": ["SAVINGS", "FIXED_DEPOSIT", "RECURRING_DEPOSIT"],
            "parameters": {"include_dormant_accounts": False, "process_failed_accounts_first": True},
            "cronExpression": "0 0 * * *",
            "enabled": True,
            "updatedBy": None,
        }
        one = api.execute(
            api.tokens["user"],
            "query($id: ID!) { getInterestBatchConfig(id: $id) { id jobType cronExpression } }",
            {"id": configs[1]["id"]},
        )["getInterestBatchConfig"]
        assert one == {"id": configs[1]["id"], "jobType": "interest_posting", "cronExpression": "0 1 * * *"}

    def test_unknown_config_is_not_found(self, api: Stack) -> None:
        with pytest.raises(TransportQueryError) as raised:
            api.execute(api.tokens["user"], '{ getInterestBatchConfig(id: "987654") { id } }')
        assert codes(raised) == [("NOT_FOUND", None)]


class TestExecutions:
    def test_newest_first_with_filters_and_total_count(self, history: Stack) -> None:
        query = """query($input: ExecutionsInput) { getInterestBatchExecutions(input: $input) {
                     data { id status } totalCount } }"""
        every = history.execute(history.tokens["user"], query, {"input": {}})["getInterestBatchExecutions"]
        assert [e["id"] for e in every["data"]] == [
            "now-running",
            "today-posting",
            "today-accrual",
            "old-posting",
            "old-accrual",
        ]
        assert every["totalCount"] == 5
        page = history.execute(
            history.tokens["user"],
            query,
            {
                "input": {
                    "jobType": "interest_posting",
                    "businessDateFrom": "2025-03-02",
                    "limit": 1,
                    "offset": 1,
                }
            },
        )["getInterestBatchExecutions"]
        assert page == {"data": [{"id": "today-posting", "status": "SUCCESS"}], "totalCount": 2}
        failed = history.execute(history.tokens["user"], query, {"input": {"status": "FAILED"}})
        assert failed["getInterestBatchExecutions"]["totalCount"] == 1

    def test_limit_defaults_to_20_and_pages_go_on_from_the_offset(self, api: Stack) -> None:
        with api.connect() as conn:
            for day in range(1, 26):
                add_execution(
                    conn,
                    f"run-{day:02d}",
                    "daily_interest_accrual",
                    f"2025-01-{day:02d}",
                    "SUCCESS",
                    started=NOW - timedelta(days=40 - day),
                )
        query = "query($input: ExecutionsInput) { getInterestBatchExecutions(input: $input) { data { id } totalCount } }"
        first = api.execute(api.tokens["user"], query)["getInterestBatchExecutions"]
        assert [e["id"] for e in first["data"]] == [f"run-{d:02d}" for d in range(25, 5, -1)]
        assert first["totalCount"] == 25
        rest = api.execute(api.tokens["user"], query, {"input": {"offset": 20, "limit": 500}})
        assert [e["id"] for e in rest["getInterestBatchExecutions"]["data"]] == [
            f"run-{d:02d}" for d in range(5, 0, -1)
        ]

    def test_one_execution_with_counts_totals_and_dagster_url(self, history: Stack) -> None:
        found = history.execute(
            history.tokens["user"],
            """{ getInterestBatchExecution(id: "today-accrual") { id jobType businessDate trigger status
                 startedAt completedAt totalAccounts succeededAccounts skippedAccounts failedAccounts
                 totalsByCurrency totals { currency amount } errorMessage dagsterRunUrl } }""",
        )["getInterestBatchExecution"]
        assert found["businessDate"] == "2025-03-02"
        assert found["trigger"] == "SCHEDULE"
        assert found["status"] == "PARTIAL"
        assert (found["totalAccounts"], found["succeededAccounts"], found["skippedAccounts"]) == (4, 2, 0)
        assert found["failedAccounts"] == 2
        assert found["totalsByCurrency"] == {"USD": "0.2000000000"}
        assert found["totals"] == [{"currency": "USD", "amount": "0.2000000000"}]
        assert found["dagsterRunUrl"] == history.dagster_url.removesuffix("/graphql") + "/runs/today-accrual"


class TestAccountResults:
    def test_reference_example_pages_failed_results_with_total_count(self, history: Stack) -> None:
        query = substitute(ACCOUNT_RESULTS, execution_id="today-accrual")
        found = history.execute(history.tokens["user"], query)["getInterestBatchAccountResults"]
        assert found["totalCount"] == 2
        assert found["data"] == [
            {
                "accountId": "12",
                "accountNumber": "ACC-00000012",
                "interestCalculated": None,
                "status": "FAILED",
                "errorMessage": "no rate tier for 2025-03-02",
                "processingTimeMs": "0.125",
            },
            {
                "accountId": "14",
                "accountNumber": "ACC-00000014",
                "interestCalculated": None,
                "status": "FAILED",
                "errorMessage": "no balance on or before 2025-03-02",
                "processingTimeMs": "0.125",
            },
        ]

    def test_by_account_and_success_amounts_are_exact_strings(self, history: Stack) -> None:
        found = history.execute(
            history.tokens["user"],
            """{ getInterestBatchAccountResults(input: {batchExecutionId: "today-accrual", accountId: "13"}) {
                 data { accountId interestCalculated currency status } totalCount } }""",
        )["getInterestBatchAccountResults"]
        assert found == {
            "data": [
                {
                    "accountId": "13",
                    "interestCalculated": "0.1000000000",
                    "currency": "USD",
                    "status": "SUCCESS",
                }
            ],
            "totalCount": 1,
        }

    def test_pages_at_any_offset_are_the_executions_results_in_account_then_date_order(
        self, history: Stack
    ) -> None:
        # A posting execution that made late postings: accounts 11 and 13 have a result of the
        # owed date 2025-02-28 and of the run's own date, so the key's date orders within an account.
        with history.connect() as conn, conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO interest_batch_account_result (execution_id, account_id, job_type, business_date,"
                " status, amount, currency, reason) VALUES ('today-posting', %s, 'interest_posting', %s, %s,"
                " %s, 'USD', %s)",
                [
                    (14, "2025-03-02", "SKIPPED", None, "NOTHING_TO_POST"),
                    (13, "2025-03-02", "SUCCESS", "2.00", None),
                    (13, "2025-02-28", "SUCCESS", "1.00", None),
                    (12, "2025-03-02", "FAILED", None, "INCOMPLETE_ACCRUALS: missing 2025-03-01"),
                    (11, "2025-03-02", "SUCCESS", "4.00", None),
                    (11, "2025-02-28", "FAILED", None, "INCOMPLETE_ACCRUALS: missing 2025-02-27"),
                ],
            )
        query = """query($input: AccountResultsInput!) { getInterestBatchAccountResults(input: $input) {
                     data { accountId accountNumber businessDate status interestCalculated } totalCount } }"""

        def page(limit: int, offset: int, **filters: str) -> dict[str, Any]:
            given = {"batchExecutionId": "today-posting", "limit": limit, "offset": offset, **filters}
            found: dict[str, Any] = history.execute(history.tokens["user"], query, {"input": given})
            return found["getInterestBatchAccountResults"]

        every = [
            ("11", "ACC-00000011", "2025-02-28", "FAILED", None),
            ("11", "ACC-00000011", "2025-03-02", "SUCCESS", "4.0000000000"),
            ("12", "ACC-00000012", "2025-03-02", "FAILED", None),
            ("13", "ACC-00000013", "2025-02-28", "SUCCESS", "1.0000000000"),
            ("13", "ACC-00000013", "2025-03-02", "SUCCESS", "2.0000000000"),
            ("14", "ACC-00000014", "2025-03-02", "SKIPPED", None),
        ]

        def rows(found: dict[str, Any]) -> list[tuple[Any, ...]]:
            names = ("accountId", "accountNumber", "businessDate", "status", "interestCalculated")
            return [tuple(r[n] for n in names) for r in found["data"]]

        pages = [page(2, offset) for offset in (0, 2, 4)]
        assert [rows(p) for p in pages] == [every[0:2], every[2:4], every[4:6]]
        assert {p["totalCount"] for p in pages} == {6}
        assert rows(page(4, 3)) == every[3:6]
        assert page(2, 6) == {"data": [], "totalCount": 6}
        failed = page(1, 1, status="FAILED")
        assert (rows(failed), failed["totalCount"]) == ([every[2]], 2)
        succeeded = page(2, 1, status="SUCCESS")
        assert (rows(succeeded), succeeded["totalCount"]) == ([every[3], every[4]], 3)
        one_account = page(5, 1, accountId="13")
        assert (rows(one_account), one_account["totalCount"]) == ([every[4]], 2)


class TestSummary:
    def test_reference_example_sums_today_per_currency_exactly(self, history: Stack) -> None:
        found = history.execute(history.tokens["user"], SUMMARY)["getInterestBatchSummary"]
        assert found["totalAccountsProcessedToday"] == 4 + 4  # today's accrual and posting; the running one 0
        assert found["failedAccountsToday"] == 2
        # Today's postings: 292215.58 + 0.42 USD (the running one's committed chunks count), 13460653 JPY.
        assert found["totalInterestPostedToday"] == {"JPY": "13460653", "USD": "292216.00"}
        # (8 s + 2 s) / 8 accounts of today's finished executions.
        assert found["avgProcessingTimeMs"] == "1250.000"
        assert found["currentRunningJobs"] == 1
        assert found["lastCompletedRun"]["id"] == "today-posting"
        assert found["lastCompletedRun"]["jobType"] == "interest_posting"
        assert found["lastCompletedRun"]["status"] == "SUCCESS"

    def test_an_empty_day(self, api: Stack) -> None:
        found = api.execute(api.tokens["user"], SUMMARY)["getInterestBatchSummary"]
        assert found == {
            "totalAccountsProcessedToday": 0,
            "totalInterestPostedToday": {},
            "failedAccountsToday": 0,
            "avgProcessingTimeMs": None,
            "currentRunningJobs": 0,
            "lastCompletedRun": None,
        }

"""Configuration mutations, the reference's trigger and update examples verbatim, and refused input."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from gql.transport.exceptions import TransportQueryError

from interest_pipeline_tests.api.conftest import Stack
from interest_pipeline_tests.api.reference_examples import (
    TRIGGER_ACCRUAL,
    TRIGGER_POSTING_FOR_ACCOUNTS,
    UPDATE_CONFIG,
    substitute,
)
from interest_pipeline_tests.api.test_runs import dagster_run, finished_execution, make_book

pytestmark = pytest.mark.xdist_group("api-e2e")

CREATE = """
mutation Create($input: CreateInterestBatchConfigInput!) {
  createInterestBatchConfig(input: $input) {
    id jobType name batchSize parallelThreads maxRetries retryIntervalSeconds timeoutSeconds accountTypes
    parameters cronExpression enabled description createdBy updatedBy createdAt updatedAt
  }
}
"""
UPDATE = """
mutation Update($input: UpdateInterestBatchConfigInput!) { updateInterestBatchConfig(input: $input) { id } }
"""
TRIGGER = """
mutation Trigger($input: TriggerInterestBatchJobInput!) { triggerInterestBatchJob(input: $input) { id } }
"""
EXECUTIONS = """
query Executions($input: ExecutionsInput) { getInterestBatchExecutions(input: $input) { totalCount } }
"""
RESULTS = """
query Results($input: AccountResultsInput!) { getInterestBatchAccountResults(input: $input) { totalCount } }
"""
FIXED_DEPOSIT_POSTING = {
    "jobType": "interest_posting",
    "name": "fixed-deposits-0200",
    "accountTypes": ["FIXED_DEPOSIT"],
    "cronExpression": "0 2 * * *",
    "batchSize": 20000,
    "parameters": {"process_failed_accounts_first": False},
    "description": "fixed deposits only, after the default posting",
}


def config_ids(conn: psycopg.Connection) -> dict[str, int]:
    rows = conn.execute("SELECT job_type, id FROM interest_batch_config WHERE name = 'default'").fetchall()
    return {r[0]: r[1] for r in rows}


def config_table(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
    return conn.execute("SELECT * FROM interest_batch_config ORDER BY id").fetchall()


def dagster_run_count(stack: Stack) -> int:
    found = stack.dagster("{ runsOrError { ... on Runs { count } } }")
    return int(found["runsOrError"]["count"])


class TestConfigMutations:
    def test_create_a_named_config_beside_the_default_and_read_it_back(self, api: Stack) -> None:
        created = api.execute(api.tokens["admin"], CREATE, {"input": FIXED_DEPOSIT_POSTING})[
            "createInterestBatchConfig"
        ]
        assert {k: created[k] for k in FIXED_DEPOSIT_POSTING} == FIXED_DEPOSIT_POSTING
        assert (created["parallelThreads"], created["maxRetries"], created["timeoutSeconds"]) == (2, 3, 3600)
        assert created["enabled"] is True
        assert (created["createdBy"], created["updatedBy"]) == ("ops-admin", "ops-admin")
        listed = api.execute(api.tokens["user"], "{ getInterestBatchConfigs { jobType name } }")
        assert listed["getInterestBatchConfigs"] == [
            {"jobType": "daily_interest_accrual", "name": "default"},
            {"jobType": "interest_posting", "name": "default"},
            {"jobType": "interest_posting", "name": "fixed-deposits-0200"},
        ]

    def test_a_second_config_of_the_same_name_is_a_conflict_and_changes_nothing(self, api: Stack) -> None:
        api.execute(api.tokens["admin"], CREATE, {"input": FIXED_DEPOSIT_POSTING})
        with api.connect() as conn:
            before = config_table(conn)
        with pytest.raises(TransportQueryError) as raised:
            api.execute(api.tokens["admin"], CREATE, {"input": {**FIXED_DEPOSIT_POSTING, "batchSize": 5}})
        assert raised.value.errors is not None
        assert raised.value.errors[0]["extensions"]["code"] == "CONFLICT"
        with api.connect() as conn:
            assert config_table(conn) == before

    def test_renaming_a_config_to_a_name_its_job_type_has_is_a_conflict_and_changes_nothing(
        self, api: Stack
    ) -> None:
        # The update path of the unique-name check (create's is the test above): same code, same error.
        created = api.execute(api.tokens["admin"], CREATE, {"input": FIXED_DEPOSIT_POSTING})
        config_id = created["createInterestBatchConfig"]["id"]
        with api.connect() as conn:
            before = config_table(conn)
        with pytest.raises(TransportQueryError) as raised:
            api.execute(api.tokens["admin"], UPDATE, {"input": {"id": config_id, "name": "default"}})
        assert raised.value.errors is not None
        assert raised.value.errors[0]["extensions"]["code"] == "CONFLICT"
        assert (
            raised.value.errors[0]["message"]
            == "a interest_posting configuration named 'default' exists already"
        )
        with api.connect() as conn:
            assert config_table(conn) == before

    def test_reference_update_example_runs_verbatim(self, api: Stack) -> None:
        with api.connect() as conn:
            config_id = config_ids(conn)["daily_interest_accrual"]
            before = conn.execute(
                "SELECT updated_at FROM interest_batch_config WHERE id = %s", (config_id,)
            ).fetchone()
        updated = api.execute(api.tokens["admin"], substitute(UPDATE_CONFIG, config_id=str(config_id)))
        row = updated["updateInterestBatchConfig"]
        assert {k: row[k] for k in ("id", "jobType", "batchSize", "parallelThreads", "enabled")} == {
            "id": str(config_id),
            "jobType": "daily_interest_accrual",
            "batchSize": 500,
            "parallelThreads": 8,
            "enabled": True,
        }
        with api.connect() as conn:
            stored = conn.execute(
                "SELECT custom_parameters, updated_by, updated_at FROM interest_batch_config WHERE id = %s",
                (config_id,),
            ).fetchone()
        assert stored is not None and before is not None
        # Merged into the row's parameters: the flag the example does not name stays.
        assert stored[0] == {
            "include_dormant_accounts": True,
            "logging_level": "DEBUG",
            "process_failed_accounts_first": True,
        }
        assert stored[1] == "ops-admin"
        assert stored[2] > before[0]


class TestReferenceTriggers:
    def test_accrual_example_launches_a_run_of_the_last_finished_date_that_succeeds(self, api: Stack) -> None:
        with api.connect() as conn:
            make_book(conn)
        launched = api.execute(api.tokens["admin"], TRIGGER_ACCRUAL)["triggerInterestBatchJob"]
        assert set(launched) == {"id", "jobType", "startedAt", "status"}
        assert launched["jobType"] == "daily_interest_accrual"
        execution = finished_execution(api, launched["id"])
        yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
        assert execution["businessDate"] == yesterday
        assert execution["status"] == "SUCCESS"
        # 10,000.00, 25,000.00 and 99,999.00 at 3.65 % ACT/365F: 1, 2.5 and 9.9999 a day.
        assert execution["totalsByCurrency"] == {"USD": "13.4999000000"}
        assert Decimal(execution["totalsByCurrency"]["USD"]) == Decimal("1") + Decimal("2.5") + Decimal(
            "9.9999"
        )
        assert dagster_run(api, launched["id"])["tags"]["dagster/partition"] == yesterday

    def test_posting_example_for_two_accounts_launches_a_run_scoped_to_them(self, api: Stack) -> None:
        with api.connect() as conn:
            make_book(conn)
        query = substitute(TRIGGER_POSTING_FOR_ACCOUNTS, account_id_1="101", account_id_2="102")
        launched = api.execute(api.tokens["admin"], query)["triggerInterestBatchJob"]
        assert launched["jobType"] == "interest_posting"
        execution = finished_execution(api, launched["id"])
        assert execution["jobType"] == "interest_posting"
        assert execution["accountIds"] == ["101", "102"]
        assert execution["status"] in {"SUCCESS", "PARTIAL"}  # PARTIAL when a month end finds no accruals
        assert execution["totalAccounts"] <= 2


def tomorrow() -> str:
    return (datetime.now(UTC) + timedelta(days=1)).date().isoformat()


def invalid_requests(ids: dict[str, int]) -> list[tuple[str, dict[str, Any], str]]:
    """(query, variables, the field named at fault): each must be BAD_USER_INPUT and change nothing."""
    create = FIXED_DEPOSIT_POSTING
    return [
        (CREATE, {"input": {**create, "jobType": "monthly_magic"}}, "input.jobType"),
        (CREATE, {"input": {**create, "batchSize": 0}}, "input.batchSize"),
        (CREATE, {"input": {**create, "batchSize": 1_000_001}}, "input.batchSize"),
        (CREATE, {"input": {**create, "parallelThreads": 65}}, "input.parallelThreads"),
        (CREATE, {"input": {**create, "cronExpression": "61 * * * *"}}, "input.cronExpression"),
        (CREATE, {"input": {**create, "cronExpression": "0 0 * *"}}, "input.cronExpression"),
        (CREATE, {"input": {**create, "accountTypes": ["CURRENT"]}}, "input.accountTypes"),
        (CREATE, {"input": {**create, "parameters": {"nightly_bonus": True}}}, "input.parameters"),
        (CREATE, {"input": {**create, "name": "  "}}, "input.name"),
        (
            UPDATE,
            {"input": {"id": str(ids["interest_posting"]), "parameters": {"logging_level": "LOUD"}}},
            "input.parameters.logging_level",
        ),
        (
            UPDATE,
            {
                "input": {
                    "id": str(ids["interest_posting"]),
                    "parameters": {"include_dormant_accounts": "yes"},
                }
            },
            "input.parameters.include_dormant_accounts",
        ),
        (UPDATE, {"input": {"id": "config-id", "batchSize": 500}}, "input.id"),
        (UPDATE, {"input": {"id": str(ids["interest_posting"]), "name": "renamed"}}, "input.name"),
        (TRIGGER, {"input": {"jobType": "weekly_interest"}}, "input.jobType"),
        (
            TRIGGER,
            {"input": {"jobType": "daily_interest_accrual", "accountIds": ["999999"]}},
            "input.accountIds",
        ),
        (
            TRIGGER,
            {"input": {"jobType": "daily_interest_accrual", "accountIds": ["account-id-1"]}},
            "input.accountIds",
        ),
        (
            TRIGGER,
            {"input": {"jobType": "daily_interest_accrual", "businessDate": "2019-12-31"}},
            "input.businessDate",
        ),
        (
            TRIGGER,
            {"input": {"jobType": "daily_interest_accrual", "businessDate": tomorrow()}},
            "input.businessDate",
        ),
        (
            TRIGGER,
            {"input": {"jobType": "daily_interest_accrual", "businessDate": "31/03/2025"}},
            "input.businessDate",
        ),
        (
            TRIGGER,
            {"input": {"jobType": "daily_interest_accrual", "parameters": {"batch_size": 0}}},
            "input.parameters.batch_size",
        ),
        (
            TRIGGER,
            {"input": {"jobType": "daily_interest_accrual", "configId": str(ids["interest_posting"])}},
            "input.configId",
        ),
        (
            TRIGGER,
            {"input": {"jobType": "interest_posting", "parameters": {"speed": "max"}}},
            "input.parameters",
        ),
        (EXECUTIONS, {"input": {"limit": 501}}, "input.limit"),
        (EXECUTIONS, {"input": {"status": "DONE"}}, "input.status"),
        (RESULTS, {"input": {"batchExecutionId": "any", "status": "BROKEN"}}, "input.status"),
    ]


class TestInvalidInput:
    def test_each_is_bad_user_input_naming_its_field_and_nothing_changes(self, api: Stack) -> None:
        with api.connect() as conn:
            make_book(conn)
            ids = config_ids(conn)
            configs_before = config_table(conn)
        runs_before = dagster_run_count(api)
        answered = []
        for query, variables, _field in invalid_requests(ids):
            with pytest.raises(TransportQueryError) as raised:
                api.execute(api.tokens["admin"], query, variables)
            assert raised.value.errors is not None
            error = raised.value.errors[0]
            answered.append((error["extensions"]["code"], error["extensions"].get("field")))
            assert "Traceback" not in error["message"]
        assert answered == [("BAD_USER_INPUT", field) for _q, _v, field in invalid_requests(ids)]
        assert len(answered) >= 10
        with api.connect() as conn:
            assert config_table(conn) == configs_before
            assert conn.execute("SELECT count(*) FROM interest_batch_execution").fetchone() == (0,)
        assert dagster_run_count(api) == runs_before

    def test_a_malformed_query_is_a_request_error(self, api: Stack) -> None:
        with pytest.raises(TransportQueryError) as raised:
            api.execute(api.tokens["user"], "{ getInterestBatchConfigs { nope } }")
        assert raised.value.errors is not None
        assert raised.value.errors[0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"

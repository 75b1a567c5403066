"""The reference's mutations: admin only, validated before any write, recorded with who made them."""

from typing import Any

import graphene

from interest_pipeline.api import repository, runs, validation
from interest_pipeline.api.context import ApiContext
from interest_pipeline.api.errors import BadUserInput, Conflict, NotFound
from interest_pipeline.api.types import (
    CreateInterestBatchConfigInput,
    InterestBatchConfig,
    InterestBatchExecution,
    TriggeredBatchJob,
    TriggerInterestBatchJobInput,
    UpdateInterestBatchConfigInput,
)
from interest_pipeline.batch.config import ACCOUNT_TYPES, MAX_BATCH_SIZE
from interest_pipeline.batch.executions import ExecutionRow

# What a new configuration gets for a field left out: the seeded rows' values.
CREATE_DEFAULTS: dict[str, Any] = {
    "batch_size": 250_000,
    "parallel_threads": 2,
    "max_retries": 3,
    "retry_interval_seconds": 60,
    "timeout_seconds": 3600,
    "account_types": list(ACCOUNT_TYPES),
    "custom_parameters": {},
    "enabled": True,
    "description": None,
}


def _checked_fields(given: dict[str, Any]) -> dict[str, Any]:
    """The column values of a create or update input, each validated; only the fields given."""
    values: dict[str, Any] = {}
    if given.get("name") is not None:
        values["name"] = validation.name(given["name"], "input.name")
    ranges = {
        "batch_size": (1, MAX_BATCH_SIZE, "input.batchSize"),
        "parallel_threads": (1, validation.MAX_PARALLEL_THREADS, "input.parallelThreads"),
        "max_retries": (0, validation.MAX_RETRIES, "input.maxRetries"),
        "retry_interval_seconds": (0, validation.MAX_RETRY_INTERVAL_SECONDS, "input.retryIntervalSeconds"),
        "timeout_seconds": (1, validation.MAX_TIMEOUT_SECONDS, "input.timeoutSeconds"),
    }
    for key, (low, high, field) in ranges.items():
        if given.get(key) is not None:
            values[key] = validation.in_range(given[key], low, high, field)
    if given.get("account_types") is not None:
        values["account_types"] = validation.account_types(given["account_types"], "input.accountTypes")
    if given.get("cron_expression") is not None:
        values["cron_expression"] = validation.cron(given["cron_expression"], "input.cronExpression")
    for key in ("enabled", "description"):
        if given.get(key) is not None:
            values[key] = given[key]
    return values


def _duplicate(job_type: str, name: str | None) -> Conflict:
    return Conflict(f"a {job_type} configuration named {name!r} exists already")


class CreateInterestBatchConfig(graphene.Mutation):  # type: ignore[misc]
    class Arguments:
        input = CreateInterestBatchConfigInput(required=True)

    Output = InterestBatchConfig

    @staticmethod
    def mutate(_root: Any, info: Any, input: dict[str, Any]) -> repository.ConfigRow:
        context: ApiContext = info.context
        principal = context.require_admin()
        job_type = validation.job_type(input.get("job_type"), "input.jobType")
        values = {**CREATE_DEFAULTS, **_checked_fields(input), "job_type": job_type}
        parameters = validation.config_parameters(input.get("parameters"), "input.parameters")
        values["custom_parameters"] = {k: v for k, v in (parameters or {}).items() if v is not None}
        with context.engine.begin() as conn:
            try:
                return repository.insert_config(conn, values, principal.name)
            except repository.DuplicateName:
                raise _duplicate(job_type, values["name"]) from None


class UpdateInterestBatchConfig(graphene.Mutation):  # type: ignore[misc]
    class Arguments:
        input = UpdateInterestBatchConfigInput(required=True)

    Output = InterestBatchConfig

    @staticmethod
    def mutate(_root: Any, info: Any, input: dict[str, Any]) -> repository.ConfigRow:
        context: ApiContext = info.context
        principal = context.require_admin()
        config_id = validation.positive_id(input.get("id"), "input.id")
        values = _checked_fields(input)
        parameters = validation.config_parameters(input.get("parameters"), "input.parameters")
        with context.engine.begin() as conn:
            current = repository.get_config(conn, config_id)
            if current is None:
                raise NotFound(f"no configuration {config_id}")
            if parameters is not None:
                merged = {**current.custom_parameters, **parameters}
                values["custom_parameters"] = {k: v for k, v in merged.items() if v is not None}
            if current.name == "default" and values.get("name", "default") != "default":
                raise BadUserInput(
                    "the 'default' configuration keeps its name: runs without a configId use it", "input.name"
                )
            try:
                row = repository.update_config(conn, config_id, values, principal.name)
            except repository.DuplicateName:
                raise _duplicate(current.job_type, values.get("name")) from None
        assert row is not None
        return row


class TriggerInterestBatchJob(graphene.Mutation):  # type: ignore[misc]
    class Arguments:
        input = TriggerInterestBatchJobInput(required=True)

    Output = TriggeredBatchJob

    @staticmethod
    def mutate(_root: Any, info: Any, input: dict[str, Any]) -> runs.TriggeredRun:
        return runs.trigger(
            info.context,
            job_type=input.get("job_type"),  # type: ignore[arg-type]
            business_date=input.get("business_date"),
            config_id=input.get("config_id"),
            parameters=input.get("parameters"),
            account_ids=input.get("account_ids"),
        )


class CancelInterestBatchExecution(graphene.Mutation):  # type: ignore[misc]
    class Arguments:
        id = graphene.ID(required=True)

    Output = InterestBatchExecution

    @staticmethod
    def mutate(_root: Any, info: Any, id: str) -> ExecutionRow:
        return runs.cancel(info.context, id)


class Mutation(graphene.ObjectType):  # type: ignore[misc]
    create_interest_batch_config = CreateInterestBatchConfig.Field(required=True)
    update_interest_batch_config = UpdateInterestBatchConfig.Field(required=True)
    trigger_interest_batch_job = TriggerInterestBatchJob.Field(required=True)
    cancel_interest_batch_execution = CancelInterestBatchExecution.Field(required=True)

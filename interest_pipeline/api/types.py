"""The GraphQL object and input types, named as the reference names them.

Resolvers read the repository's typed rows; money is the Decimal scalar (strings) throughout.
"""

from collections.abc import Mapping
from decimal import Decimal as PyDecimal
from typing import Any

import graphene

from interest_pipeline.api import repository
from interest_pipeline.api.scalars import JSON, Decimal
from interest_pipeline.batch.executions import ExecutionRow, run_id_of


class CurrencyAmount(graphene.ObjectType):  # type: ignore[misc]
    currency = graphene.String(required=True)
    amount = Decimal(required=True)


def currency_amounts(totals: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"currency": c, "amount": PyDecimal(str(a))} for c, a in sorted(totals.items())]


class InterestBatchConfig(graphene.ObjectType):  # type: ignore[misc]
    id = graphene.ID(required=True)
    job_type = graphene.String(required=True)
    name = graphene.String(required=True)
    batch_size = graphene.Int(required=True)
    parallel_threads = graphene.Int(required=True)
    max_retries = graphene.Int(required=True)
    retry_interval_seconds = graphene.Int(required=True)
    timeout_seconds = graphene.Int(required=True)
    account_types = graphene.List(graphene.NonNull(graphene.String), required=True)
    parameters = JSON(required=True, description="The row's custom parameters (custom_parameters).")
    cron_expression = graphene.String(required=True)
    enabled = graphene.Boolean(required=True)
    description = graphene.String()
    created_at = graphene.DateTime(required=True)
    updated_at = graphene.DateTime(required=True)
    created_by = graphene.String()
    updated_by = graphene.String()

    @staticmethod
    def resolve_parameters(row: repository.ConfigRow, _info: Any) -> dict[str, Any]:
        return row.custom_parameters


class InterestBatchExecution(graphene.ObjectType):  # type: ignore[misc]
    id = graphene.ID(required=True, description="The Dagster run id.")
    job_type = graphene.String(required=True)
    business_date = graphene.Date(required=True)
    trigger = graphene.String(required=True)
    status = graphene.String(required=True)
    started_at = graphene.DateTime(required=True)
    completed_at = graphene.DateTime()
    # The reference's names for the row's counts: read by `source`, no resolver of their own.
    total_accounts = graphene.Int(
        required=True,
        description="Accounts processed (succeeded + skipped + failed).",
        source="accounts_processed",
    )
    succeeded_accounts = graphene.Int(required=True, source="accounts_succeeded")
    skipped_accounts = graphene.Int(required=True, source="accounts_skipped")
    failed_accounts = graphene.Int(required=True, source="accounts_failed")
    total_chunks = graphene.Int(required=True)
    chunks_completed = graphene.Int(required=True)
    totals_by_currency = JSON(required=True, description='Exact per-currency totals: {"USD": "8.49"}.')
    totals = graphene.List(graphene.NonNull(CurrencyAmount), required=True)
    parameters = JSON(required=True)
    account_ids = graphene.List(graphene.NonNull(graphene.String))
    account_types = graphene.List(graphene.NonNull(graphene.String), required=True)
    error_message = graphene.String()
    dagster_run_url = graphene.String(required=True)

    @staticmethod
    def resolve_totals(row: ExecutionRow, _info: Any) -> list[dict[str, Any]]:
        return currency_amounts(row.totals_by_currency)

    @staticmethod
    def resolve_account_ids(row: ExecutionRow, _info: Any) -> list[str] | None:
        return None if row.account_ids is None else [str(i) for i in row.account_ids]

    @staticmethod
    def resolve_dagster_run_url(row: ExecutionRow, info: Any) -> str:
        return str(info.context.dagster.run_url(run_id_of(row.id)))


class InterestBatchExecutionPage(graphene.ObjectType):  # type: ignore[misc]
    data = graphene.List(graphene.NonNull(InterestBatchExecution), required=True)
    total_count = graphene.Int(required=True)


class InterestBatchAccountResult(graphene.ObjectType):  # type: ignore[misc]
    batch_execution_id = graphene.ID(required=True, source="execution_id")
    account_id = graphene.ID(required=True)
    account_number = graphene.String()
    job_type = graphene.String(required=True)
    business_date = graphene.Date(required=True)
    status = graphene.String(required=True)
    interest_calculated = Decimal(
        description="Accrual: the amount accrued; posting: the gross posted.", source="amount"
    )
    previous_amount = Decimal()
    currency = graphene.String()
    reason = graphene.String()
    error_message = graphene.String()
    processing_time_ms = Decimal(description="The writing statement's time per row (see the column comment).")
    created_at = graphene.DateTime(required=True)

    @staticmethod
    def resolve_account_id(row: repository.ResultRow, _info: Any) -> str:
        return str(row.account_id)


class InterestBatchAccountResultPage(graphene.ObjectType):  # type: ignore[misc]
    data = graphene.List(graphene.NonNull(InterestBatchAccountResult), required=True)
    total_count = graphene.Int(required=True)


class CompletedRun(graphene.ObjectType):  # type: ignore[misc]
    id = graphene.ID(required=True)
    job_type = graphene.String(required=True)
    business_date = graphene.Date(required=True)
    completed_at = graphene.DateTime(required=True)
    status = graphene.String(required=True)


class InterestBatchSummary(graphene.ObjectType):  # type: ignore[misc]
    business_date = graphene.Date(required=True, description="Today, in the business timezone.")
    total_accounts_processed_today = graphene.Int(required=True)
    total_interest_posted_today = JSON(
        required=True,
        description='Posted today, per currency, exact: {"USD": "292215.58", "JPY": "13460653"}.',
    )
    interest_posted_today = graphene.List(graphene.NonNull(CurrencyAmount), required=True)
    failed_accounts_today = graphene.Int(required=True)
    avg_processing_time_ms = Decimal(
        description="Wall time per processed account of today's finished executions, in milliseconds."
    )
    current_running_jobs = graphene.Int(required=True)
    last_completed_run = graphene.Field(CompletedRun)


class TriggeredBatchJob(graphene.ObjectType):  # type: ignore[misc]
    id = graphene.ID(required=True, description="The Dagster run id (and, once it starts, the execution id).")
    job_type = graphene.String(required=True)
    business_date = graphene.Date(required=True)
    config_id = graphene.ID(required=True)
    started_at = graphene.DateTime(required=True)
    status = graphene.String(
        required=True, description="The Dagster run's status when launched (QUEUED ...)."
    )
    dagster_run_url = graphene.String(required=True)


class ExecutionsInput(graphene.InputObjectType):  # type: ignore[misc]
    job_type = graphene.String()
    status = graphene.String()
    business_date_from = graphene.String()
    business_date_to = graphene.String()
    limit = graphene.Int()
    offset = graphene.Int()


class AccountResultsInput(graphene.InputObjectType):  # type: ignore[misc]
    batch_execution_id = graphene.String(required=True)
    status = graphene.String()
    account_id = graphene.String()
    limit = graphene.Int()
    offset = graphene.Int()


class _ConfigTuningInput(graphene.InputObjectType):  # type: ignore[misc]
    """The tuning fields of both config inputs, optional in both (abstract: no GraphQL type of its own).

    Graphene lists a base's fields before the class's own (it reads the bases in reverse MRO order),
    so each input keeps its leading fields in a second base, listed after this one: the inputs'
    field order, and so the printed schema, stays as the reference names it.
    """

    class Meta:
        abstract = True

    batch_size = graphene.Int()
    parallel_threads = graphene.Int()
    max_retries = graphene.Int()
    retry_interval_seconds = graphene.Int()
    timeout_seconds = graphene.Int()
    account_types = graphene.List(graphene.NonNull(graphene.String))


class _CreateConfigKeyInput(graphene.InputObjectType):  # type: ignore[misc]
    class Meta:
        abstract = True

    job_type = graphene.String(required=True)
    name = graphene.String(required=True)


class CreateInterestBatchConfigInput(_ConfigTuningInput, _CreateConfigKeyInput):  # type: ignore[misc]
    parameters = JSON()
    cron_expression = graphene.String(required=True)
    enabled = graphene.Boolean()
    description = graphene.String()


class _UpdateConfigKeyInput(graphene.InputObjectType):  # type: ignore[misc]
    class Meta:
        abstract = True

    id = graphene.ID(required=True)
    name = graphene.String()


class UpdateInterestBatchConfigInput(_ConfigTuningInput, _UpdateConfigKeyInput):  # type: ignore[misc]
    parameters = JSON(description="Merged into the row's parameters; a key set to null is removed.")
    cron_expression = graphene.String()
    enabled = graphene.Boolean()
    description = graphene.String()


class TriggerInterestBatchJobInput(graphene.InputObjectType):  # type: ignore[misc]
    job_type = graphene.String(required=True)
    business_date = graphene.String(description="Default: the last finished business date.")
    config_id = graphene.ID(description="Default: the job's 'default' configuration.")
    parameters = JSON()
    account_ids = graphene.List(graphene.NonNull(graphene.String))

"""The reference's queries; every role may run them (app.py has authenticated the caller)."""

from typing import Any

import graphene

from interest_pipeline.api import repository, validation
from interest_pipeline.api.context import ApiContext
from interest_pipeline.api.errors import NotFound
from interest_pipeline.api.types import (
    AccountResultsInput,
    CompletedRun,
    ExecutionsInput,
    InterestBatchAccountResultPage,
    InterestBatchConfig,
    InterestBatchExecution,
    InterestBatchExecutionPage,
    InterestBatchSummary,
    currency_amounts,
)
from interest_pipeline.batch.executions import ExecutionRow


def _context(info: Any) -> ApiContext:
    context: ApiContext = info.context
    return context


class Query(graphene.ObjectType):  # type: ignore[misc]
    get_interest_batch_configs = graphene.List(graphene.NonNull(InterestBatchConfig), required=True)
    get_interest_batch_config = graphene.Field(InterestBatchConfig, id=graphene.ID(required=True))
    get_interest_batch_executions = graphene.Field(
        InterestBatchExecutionPage, required=True, input=ExecutionsInput()
    )
    get_interest_batch_execution = graphene.Field(InterestBatchExecution, id=graphene.ID(required=True))
    get_interest_batch_account_results = graphene.Field(
        InterestBatchAccountResultPage, required=True, input=AccountResultsInput(required=True)
    )
    get_interest_batch_summary = graphene.Field(InterestBatchSummary, required=True)

    @staticmethod
    def resolve_get_interest_batch_configs(_root: Any, info: Any) -> list[repository.ConfigRow]:
        with _context(info).engine.connect() as conn:
            return repository.list_configs(conn)

    @staticmethod
    def resolve_get_interest_batch_config(_root: Any, info: Any, id: str) -> repository.ConfigRow:
        config_id = validation.positive_id(id, "id")
        with _context(info).engine.connect() as conn:
            row = repository.get_config(conn, config_id)
        if row is None:
            raise NotFound(f"no configuration {config_id}")
        return row

    @staticmethod
    def resolve_get_interest_batch_executions(
        _root: Any, info: Any, input: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        given = input or {}
        job_type = validation.optional_job_type(given.get("job_type"), "input.jobType")
        status = validation.execution_status(given.get("status"), "input.status")
        date_from = validation.iso_date(given.get("business_date_from"), "input.businessDateFrom")
        date_to = validation.iso_date(given.get("business_date_to"), "input.businessDateTo")
        limit, offset = validation.page(given.get("limit"), given.get("offset"), "input")
        with _context(info).engine.connect() as conn:
            rows, total = repository.list_executions(
                conn,
                job_type=job_type,
                status=status,
                date_from=date_from,
                date_to=date_to,
                limit=limit,
                offset=offset,
            )
        return {"data": rows, "total_count": total}

    @staticmethod
    def resolve_get_interest_batch_execution(_root: Any, info: Any, id: str) -> ExecutionRow:
        with _context(info).engine.connect() as conn:
            row = repository.get_execution(conn, id)
        if row is None:
            raise NotFound(f"no execution {id!r}")
        return row

    @staticmethod
    def resolve_get_interest_batch_account_results(
        _root: Any, info: Any, input: dict[str, Any]
    ) -> dict[str, Any]:
        execution_id = input["batch_execution_id"]
        status = validation.result_status(input.get("status"), "input.status")
        account = input.get("account_id")
        account_id = (
            None if account is None else validation.positive_id(account, "input.accountId", "accountId")
        )
        limit, offset = validation.page(input.get("limit"), input.get("offset"), "input")
        with _context(info).engine.connect() as conn:
            if repository.get_execution(conn, execution_id) is None:
                raise NotFound(f"no execution {execution_id!r}")
            rows, total = repository.list_results(
                conn,
                execution_id=execution_id,
                status=status,
                account_id=account_id,
                limit=limit,
                offset=offset,
            )
        return {"data": rows, "total_count": total}

    @staticmethod
    def resolve_get_interest_batch_summary(_root: Any, info: Any) -> dict[str, Any]:
        context = _context(info)
        today = context.today()
        start, end = context.day_bounds(today)
        with context.engine.connect() as conn:
            found = repository.summary(conn, start, end)
        last = found.last_completed
        return {
            "business_date": today,
            "total_accounts_processed_today": found.total_accounts_processed,
            "total_interest_posted_today": {c: str(a) for c, a in found.interest_posted.items()},
            "interest_posted_today": currency_amounts(found.interest_posted),
            "failed_accounts_today": found.failed_accounts,
            "avg_processing_time_ms": found.avg_processing_time_ms,
            "current_running_jobs": found.running_jobs,
            "last_completed_run": CompletedRun(
                id=last.id,
                job_type=last.job_type,
                business_date=last.business_date,
                completed_at=last.completed_at,
                status=last.status,
            )
            if last
            else None,
        }

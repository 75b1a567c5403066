"""The reconciliation checks as Dagster asset checks, reported by the jobs' close ops.

Form chosen, and why: the books the jobs write (`interest_accruals`, `interest_postings`,
`ledger_entries`) are declared as asset specs carrying `AssetCheckSpec`s, and the close op of each
run logs an `AssetCheckEvaluation` per check (`context.log_event`), with its figures and offending
rows as metadata and ERROR severity. The UI lists them as the assets' checks, with pass/fail per
run and history. `dg.AssetsDefinition.from_graph` would have turned the two jobs into asset jobs,
changing their names' meaning, their op graph, partitions, executor, hooks and the sensors that
watch them (all under change elsewhere); this keeps both jobs exactly as they are. The same checks
can also be run on demand from the UI ("Execute" on a check): `verify_latest_books` evaluates
them against the latest accrual and posting executions.
"""

import json
from collections.abc import Iterator, Sequence

import dagster as dg
import psycopg

from interest_pipeline.batch.executions import latest_finished_execution
from interest_pipeline.checks import sql
from interest_pipeline.checks.sql import CheckResult
from interest_pipeline.domain.enums import JobType
from interest_pipeline.resources.database import DatabaseResource

ACCRUALS = dg.AssetKey("interest_accruals")
POSTINGS = dg.AssetKey("interest_postings")
LEDGER = dg.AssetKey("ledger_entries")

CHECK_ASSETS: dict[str, dg.AssetKey] = {
    sql.ACCRUAL_OUTCOMES: ACCRUALS,
    sql.CAPITALIZED_ACCRUALS_MATCH: POSTINGS,
    sql.GROSS_IS_NET_PLUS_TAX: POSTINGS,
    sql.DUE_ACCOUNTS_HAVE_OUTCOME: POSTINGS,
    sql.JOURNALS_BALANCE: LEDGER,
    sql.JOURNALS_EQUAL_POSTINGS: LEDGER,
}

CHECK_SPECS = [
    dg.AssetCheckSpec(name, asset=asset, description=f"Reconciliation: {name.replace('_', ' ')}.")
    for name, asset in CHECK_ASSETS.items()
]

ASSET_SPECS = [
    dg.AssetSpec(
        ACCRUALS,
        description="One accrual per (account, business date): written by daily_interest_accrual.",
        kinds={"postgres"},
    ),
    dg.AssetSpec(
        POSTINGS,
        description="Capitalizations of accruals: written by interest_posting.",
        kinds={"postgres"},
        deps=[ACCRUALS],
    ),
    dg.AssetSpec(
        LEDGER,
        description="Balanced journals of the postings: written by interest_posting.",
        kinds={"postgres"},
        deps=[POSTINGS],
    ),
]


def offending_markdown(result: CheckResult) -> str:
    """The offending rows as a markdown table (the UI renders it), with the total when cut."""
    if not result.offending:
        return "none"
    head = "| " + " | ".join(result.columns) + " |\n|" + " --- |" * len(result.columns) + "\n"
    body = "".join("| " + " | ".join(str(v) for v in row) + " |\n" for row in result.offending)
    more = f"\n{len(result.offending)} of {result.offending_count} shown" if result.offending_count else ""
    return head + body + more


def evaluation(result: CheckResult, business_date: str) -> dg.AssetCheckEvaluation:
    return dg.AssetCheckEvaluation(
        asset_key=CHECK_ASSETS[result.name],
        check_name=result.name,
        passed=result.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=result.description,
        metadata={
            "business_date": dg.MetadataValue.text(business_date),
            # json keeps the figures' exact decimal strings; no float on the way
            "figures": dg.MetadataValue.json(json.loads(json.dumps(result.figures))),
            "offending_count": dg.MetadataValue.int(result.offending_count),
            "offending_rows": dg.MetadataValue.md(offending_markdown(result)),
        },
    )


def report_checks(context: dg.OpExecutionContext, results: Sequence[CheckResult], business_date: str) -> None:
    """Log each check's evaluation on the run; a failed one is also an error line of the run's log."""
    for result in results:
        # log_event records AssetCheckEvaluation too (its annotation lists only the older event kinds)
        context.log_event(evaluation(result, business_date))  # type: ignore[arg-type]
        if not result.passed:
            context.log.error(
                f"check {result.name} FAILED on {business_date}: {result.offending_count} offending row(s), "
                f"first {result.offending[:3]}"
            )


def run_checks(database: DatabaseResource, execution_id: str, job_type: str) -> list[CheckResult]:
    with database.connect() as conn:
        return checks_of(conn, execution_id, job_type)


def checks_of(conn: psycopg.Connection, execution_id: str, job_type: str) -> list[CheckResult]:
    if job_type == "interest_posting":
        return sql.posting_checks(conn, execution_id)
    return sql.accrual_checks(conn, execution_id)


@dg.multi_asset_check(specs=CHECK_SPECS, can_subset=True, name="verify_latest_books")
def verify_latest_books(
    context: dg.AssetCheckExecutionContext, database: DatabaseResource
) -> Iterator[dg.AssetCheckResult]:
    """On demand: the checks against the latest finished accrual and posting executions."""
    with database.connect() as conn:
        results: list[tuple[CheckResult, str]] = []
        for job_type in (JobType.DAILY_INTEREST_ACCRUAL, JobType.INTEREST_POSTING):
            latest = latest_finished_execution(conn, job_type)
            if latest is not None:
                results += [
                    (r, latest.business_date.isoformat()) for r in checks_of(conn, latest.id, job_type)
                ]
    selected = {key.name for key in context.selected_asset_check_keys}
    found = {result.name for result, _ in results}
    for result, day in results:
        if result.name not in selected:
            continue
        e = evaluation(result, day)
        yield dg.AssetCheckResult(
            asset_key=e.asset_key,
            check_name=e.check_name,
            passed=e.passed,
            severity=e.severity,
            description=e.description,
            metadata=e.metadata,
        )
    for name in sorted(selected - found):
        # Nothing to check is said as such, not passed silently.
        yield dg.AssetCheckResult(
            asset_key=CHECK_ASSETS[name],
            check_name=name,
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
            description="no finished execution of its job yet",
        )


def checks_definitions() -> dg.Definitions:
    return dg.Definitions(assets=ASSET_SPECS, asset_checks=[verify_latest_books])

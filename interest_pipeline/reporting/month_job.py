"""The month report as its own run: `interest_month_report`, requested when a month-end posting succeeds.

The report used to ride along in the posting run's close op. At a 1M-account book it reads the
month's ~26 M accrual rows and ~0.8 M outcomes: ~56 s (docs/benchmarks.md) that held the posting
run RUNNING after its postings, journals and checks had committed, and delayed everything that
waits for that run (its success alert, the next date's run, an export of the journals). Now the
posting run ends when its money and its checks are done, and the report follows in a run of its
own on the same business-date partition: it reads only, writes nothing, and can be re-run
(launchpad or `dagster job launch -j interest_month_report --partition P`) at any time.

A ranged run (interest_pipeline.ranged, small books) that posts requests one report per month end
in its range once it has succeeded, as the single-date posting runs of those dates would have.
"""

from datetime import date
from typing import Any, cast

import dagster as dg

from interest_pipeline.batch.orchestration import business_date_partitions
from interest_pipeline.batch.tags import PARTITION_RANGE_END_TAG, PARTITION_RANGE_START_TAG, PARTITION_TAG
from interest_pipeline.domain import is_month_end
from interest_pipeline.launch import business_dates
from interest_pipeline.posting.sql import JOB_TYPE as POSTING_JOB_TYPE
from interest_pipeline.ranged.job import JOB_NAME as RANGED_JOB_NAME
from interest_pipeline.ranged.ops import OP_NAME as RANGED_OP_NAME
from interest_pipeline.ranged.ops import RangedRunConfig
from interest_pipeline.reporting.month import month_bounds, month_report, render_table
from interest_pipeline.resources.database import DatabaseResource
from interest_pipeline.settings import Settings

JOB_NAME = "interest_month_report"
SENSOR_NAME = "interest_month_report_after_posting"


@dg.op
def report_month(context: dg.OpExecutionContext, database: DatabaseResource) -> dg.Output[int]:
    """The month report of the partition's month, as the run's markdown table; the month so far when
    the partition is not a month end (a report re-run mid-month)."""
    day = date.fromisoformat(context.partition_key)
    first, last = month_bounds(f"{day:%Y-%m}")
    through = min(last, day)
    with database.connect() as conn:
        frame = month_report(conn, first, through)
    return dg.Output(
        len(frame),
        metadata={
            "month": dg.MetadataValue.text(f"{day:%Y-%m}"),
            "through": dg.MetadataValue.text(through.isoformat()),
            "month_report": dg.MetadataValue.md(render_table(frame)),
        },
    )


@dg.graph
def month_report_graph() -> None:
    report_month()


def build_month_report_job(settings: Settings) -> dg.JobDefinition:
    return month_report_graph.to_job(
        name=JOB_NAME,
        partitions_def=business_date_partitions(settings),
        executor_def=dg.in_process_executor,
        description="The month report (per product and currency) of the partition's month; read-only.",
    )


def report_request(run: dg.DagsterRun) -> dg.RunRequest | dg.SkipReason:
    """After a successful posting run: its month's report when its business date is a month end."""
    partition_key = run.tags.get(PARTITION_TAG)
    if partition_key is None:
        return dg.SkipReason(f"posting run {run.run_id} has no partition (business date)")
    if not is_month_end(date.fromisoformat(partition_key)):
        return dg.SkipReason(f"posting run {run.run_id} for {partition_key}: not a month end")
    # One report per successful posting run: a repair re-run of the month end reports again.
    return dg.RunRequest(run_key=f"month-report-{run.run_id}", partition_key=partition_key)


def ranged_job_types(run: dg.DagsterRun) -> list[str]:
    """The job types a ranged run ran each date for: its op config, or the config's default."""
    ops = cast(dict[str, Any], run.run_config.get("ops") or {})
    op_config: dict[str, Any] = dict((ops.get(RANGED_OP_NAME) or {}).get("config") or {})
    return list(op_config.get("job_types") or RangedRunConfig().job_types)


def ranged_report_requests(run: dg.DagsterRun) -> list[dg.RunRequest] | dg.SkipReason:
    """After a successful ranged run that posted: one report per month end of its range."""
    job_types = ranged_job_types(run)
    if POSTING_JOB_TYPE not in job_types:
        return dg.SkipReason(f"ranged run {run.run_id} posted nothing (job types {job_types})")
    start = run.tags.get(PARTITION_RANGE_START_TAG, run.tags.get(PARTITION_TAG))
    end = run.tags.get(PARTITION_RANGE_END_TAG, run.tags.get(PARTITION_TAG))
    if start is None or end is None:
        return dg.SkipReason(f"ranged run {run.run_id} has no partition range (business dates)")
    month_ends = [
        day for day in business_dates(date.fromisoformat(start), date.fromisoformat(end)) if is_month_end(day)
    ]
    if not month_ends:
        return dg.SkipReason(f"ranged run {run.run_id} for {start}..{end}: no month end")
    return [
        dg.RunRequest(run_key=f"month-report-{run.run_id}-{day.isoformat()}", partition_key=day.isoformat())
        for day in month_ends
    ]


def report_requests(run: dg.DagsterRun) -> list[dg.RunRequest] | dg.RunRequest | dg.SkipReason:
    if run.job_name == RANGED_JOB_NAME:
        return ranged_report_requests(run)
    return report_request(run)


def month_report_definitions(
    posting_job: dg.JobDefinition, ranged_job: dg.JobDefinition, settings: Settings
) -> dg.Definitions:
    job = build_month_report_job(settings)

    @dg.run_status_sensor(
        name=SENSOR_NAME,
        run_status=dg.DagsterRunStatus.SUCCESS,
        monitored_jobs=[posting_job, ranged_job],
        request_job=job,
        description="Requests the month report once a month-end posting run (or a ranged run that "
        "posted a month end) has succeeded.",
    )
    def interest_month_report_after_posting(
        context: dg.RunStatusSensorContext,
    ) -> list[dg.RunRequest] | dg.RunRequest | dg.SkipReason:
        return report_requests(context.dagster_run)

    return dg.Definitions(jobs=[job], sensors=[interest_month_report_after_posting])

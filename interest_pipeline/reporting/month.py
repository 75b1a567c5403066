"""The month report: per product and currency, what accrued, what was posted, what is carried, what
failed or was skipped and why, as a pandas DataFrame of exact Decimals (object columns, no float).

pandas is imported where a report is built, not with the module: the definitions import this module
(reporting/month_job.py), and so does every process that loads them, the run's step forkserver
among them, for which pandas and numpy were 0.54 s of a 2.1 s start (python -X importtime).
"""

import calendar
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
from tabulate import tabulate

from interest_pipeline.db.local_settings import local_settings
from interest_pipeline.reporting import sql

if TYPE_CHECKING:
    import pandas as pd

AMOUNT_COLUMNS = ("accrued", "gross", "tax", "net", "written_off", "carry_outstanding")
COUNT_COLUMNS = ("accounts", "accruals", "postings")
JOB_LABELS = {"daily_interest_accrual": "accrual", "interest_posting": "posting"}


class ReportError(ValueError):
    """Bad report arguments: said once, before anything is read."""


def month_bounds(month: str) -> tuple[date, date]:
    """'2026-01' -> (2026-01-01, 2026-01-31)."""
    try:
        year, number = (int(part) for part in month.split("-"))
        first = date(year, number, 1)
    except ValueError as error:
        raise ReportError(f"--month must be YYYY-MM, got {month!r}") from error
    if len(month) != 7:
        raise ReportError(f"--month must be YYYY-MM, got {month!r}")
    return first, date(year, number, calendar.monthrange(year, number)[1])


def outcome_column(job_type: str, status: str, reason: str) -> str:
    return f"{JOB_LABELS.get(job_type, job_type)} {status.lower()} {reason}"


def month_report(conn: psycopg.Connection, first: date, last: date) -> "pd.DataFrame":
    """One row per (product, currency); the outcome columns ('accrual skipped BELOW_MIN_BALANCE',
    'posting failed INCOMPLETE_ACCRUALS', ...) count the account-dates of each reason."""
    import pandas as pd

    # Both callers (the month job, `report --month`) read the month's aggregates without JIT: with
    # the server's default they were compiled anew at every report (1M accounts: 20.9-26.2 s with
    # it, 19.4-21.3 s without). In a transaction, so that the setting ends with these two reads.
    with conn.transaction(), local_settings(conn, jit="off"):
        figures = sql.month_figures(conn, first, last)
        outcomes = sql.month_outcomes(conn, first, last)
    frame = pd.DataFrame(figures, columns=list(sql.MONTH_COLUMNS))
    for column in COUNT_COLUMNS:
        frame[column] = frame[column].astype("int64")
    reasons = sorted({outcome_column(job, status, reason) for _, _, job, status, reason, _ in outcomes})
    for column in reasons:
        frame[column] = 0
    frame = frame.set_index(["product", "currency"])
    for product, currency, job, status, reason, count in outcomes:
        key = (product, currency)
        if key not in frame.index:
            continue  # an account's outcome outside the month's open accounts cannot happen; be safe
        frame.loc[key, outcome_column(job, status, reason)] = int(count)
    for column in AMOUNT_COLUMNS:
        frame[column] = frame[column].astype(object)
    return frame.reset_index()


def currency_totals(report: "pd.DataFrame") -> "pd.DataFrame":
    """The report summed per currency (amounts only add up within a currency); exact Decimals."""
    import pandas as pd

    numeric = [c for c in report.columns if c not in ("product", "currency")]
    rows = []
    for currency, group in report.groupby("currency", sort=True):
        row: dict[str, object] = {"currency": currency}
        for column in numeric:
            values = list(group[column])
            row[column] = sum(values, Decimal(0)) if column in AMOUNT_COLUMNS else int(sum(values))
        rows.append(row)
    return pd.DataFrame(rows, columns=["currency", *numeric])


def _cell(value: object) -> str:
    return f"{value:f}" if isinstance(value, Decimal) else str(value)


def render_table(report: "pd.DataFrame") -> str:
    """GitHub-style table with amounts as exact strings (tabulate would format Decimals via float)."""
    rows = [[_cell(v) for v in row] for row in report.itertuples(index=False)]
    return tabulate(rows, headers=list(report.columns), tablefmt="github", disable_numparse=True)


def write_report(report: "pd.DataFrame", fmt: str, out: Path | None) -> str | None:
    """csv (exact strings) or parquet (decimal128 columns); returns the text when there is no file."""
    text = report.map(_cell) if fmt == "csv" else report
    if fmt == "table":
        rendered = render_table(report)
        if out is None:
            return rendered
        out.write_text(rendered + "\n")
        return None
    if fmt == "csv":
        if out is None:
            return str(text.to_csv(index=False))
        text.to_csv(out, index=False)
        return None
    if fmt == "parquet":
        if out is None:
            raise ReportError("--format parquet needs --out PATH")
        report.to_parquet(out, index=False)
        return None
    raise ReportError(f"unknown format {fmt!r}")

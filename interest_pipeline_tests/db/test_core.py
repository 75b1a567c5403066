"""db.core: Core statements on the caller's psycopg connection, values typed both ways."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

import psycopg
import pytest
from sqlalchemy import func, insert, select, update

from interest_pipeline.db import core
from interest_pipeline.db.tables import EXECUTION, RESULT
from interest_pipeline.domain.enums import ExecutionStatus, ExecutionTrigger, JobType, ResultStatus


@dataclass(frozen=True)
class Execution:
    id: str
    job_type: JobType
    business_date: date
    trigger: ExecutionTrigger
    status: ExecutionStatus
    parameters: dict[str, Any]
    account_ids: tuple[int, ...] | None
    account_types: list[str]
    worker_host: str | None
    worker_pid: int | None


class Result(NamedTuple):
    account_id: int
    job_type: JobType
    status: ResultStatus
    amount: Decimal | None
    previous_amount: Decimal | None
    reason: str | None


PARAMETERS = {"batch_size": 500, "nested": {"account_ids": [3, 1]}, "amount": "0.0000000001", "none": None}


def _open(conn: psycopg.Connection, execution_id: str, **values: Any) -> None:
    row = {
        "id": execution_id,
        "job_type": JobType.DAILY_INTEREST_ACCRUAL,
        "business_date": date(2026, 1, 31),
        "trigger": ExecutionTrigger.MANUAL,
        "status": ExecutionStatus.RUNNING,
        "parameters": PARAMETERS,
        "account_ids": [7, 42],
        "account_types": ["SAVINGS", "FIXED_DEPOSIT"],
        **values,
    }
    core.execute(conn, insert(EXECUTION).values(**row))


class TestRoundTrip:
    def test_json_arrays_dates_and_enums_come_back_as_written(self, conn: psycopg.Connection) -> None:
        _open(conn, "run-1", worker_host="host-a", worker_pid=4242)

        row = core.fetch_one(conn, select(*core.columns_of(EXECUTION, Execution)), Execution)

        assert row == Execution(
            id="run-1",
            job_type=JobType.DAILY_INTEREST_ACCRUAL,
            business_date=date(2026, 1, 31),
            trigger=ExecutionTrigger.MANUAL,
            status=ExecutionStatus.RUNNING,
            parameters=PARAMETERS,
            account_ids=(7, 42),
            account_types=["SAVINGS", "FIXED_DEPOSIT"],
            worker_host="host-a",
            worker_pid=4242,
        )
        assert type(row.job_type) is JobType and type(row.account_ids) is tuple
        # Stored as the enum's value (not its member name), which is what the CHECK constraint allows.
        assert conn.execute("SELECT job_type, trigger FROM interest_batch_execution").fetchone() == (
            "daily_interest_accrual",
            "MANUAL",
        )

    def test_nulls_stay_none(self, conn: psycopg.Connection) -> None:
        _open(conn, "run-1", account_ids=None, worker_host=None, worker_pid=None)

        row = core.fetch_one(conn, select(*core.columns_of(EXECUTION, Execution)), Execution)

        assert row is not None
        assert (row.account_ids, row.worker_host, row.worker_pid) == (None, None, None)

    def test_decimals_keep_every_digit_and_enums_bind_as_values(self, conn: psycopg.Connection) -> None:
        _open(conn, "run-1")
        results = [
            (
                1,
                ResultStatus.SUCCESS,
                Decimal("123456789012345678.0123456789"),
                Decimal("-0.0000000001"),
                None,
            ),
            (2, ResultStatus.SKIPPED, None, None, "BELOW_MIN_BALANCE"),
        ]
        for account_id, status, amount, previous, reason in results:
            core.execute(
                conn,
                insert(RESULT).values(
                    execution_id="run-1",
                    account_id=account_id,
                    job_type=JobType.DAILY_INTEREST_ACCRUAL,
                    business_date=date(2026, 1, 31),
                    status=status,
                    amount=amount,
                    previous_amount=previous,
                    reason=reason,
                ),
            )

        rows = core.fetch_all(
            conn,
            select(*core.columns_of(RESULT, Result))
            .where(RESULT.c.job_type == JobType.DAILY_INTEREST_ACCRUAL, RESULT.c.account_id.in_([1, 2, 3]))
            .order_by(RESULT.c.account_id),
            Result,
        )

        assert rows == [
            Result(
                1,
                JobType.DAILY_INTEREST_ACCRUAL,
                ResultStatus.SUCCESS,
                Decimal("123456789012345678.0123456789"),
                Decimal("-0.0000000001"),
                None,
            ),
            Result(2, JobType.DAILY_INTEREST_ACCRUAL, ResultStatus.SKIPPED, None, None, "BELOW_MIN_BALANCE"),
        ]
        assert isinstance(rows[0].amount, Decimal)

    def test_an_empty_result_is_none_and_a_value_is_read_alone(self, conn: psycopg.Connection) -> None:
        assert core.fetch_one(conn, select(*core.columns_of(EXECUTION, Execution)), Execution) is None
        assert core.fetch_value(conn, select(EXECUTION.c.id)) is None
        assert core.fetch_value(conn, select(func.count()).select_from(EXECUTION)) == 0

    def test_execute_counts_the_rows_it_touched(self, conn: psycopg.Connection) -> None:
        _open(conn, "run-1")
        _open(conn, "run-2")

        touched = core.execute(conn, update(EXECUTION).where(EXECUTION.c.id == "run-2").values(worker_pid=7))

        assert touched == 1
        assert conn.execute("SELECT id, worker_pid FROM interest_batch_execution ORDER BY id").fetchall() == [
            ("run-1", None),
            ("run-2", 7),
        ]


class TestCallersTransaction:
    def test_statements_join_the_connections_transaction(self, conn: psycopg.Connection) -> None:
        """What a chunk relies on: its small writes roll back with its set-based SQL."""
        with pytest.raises(RuntimeError), conn.transaction():
            _open(conn, "run-1")
            assert core.fetch_value(conn, select(func.count()).select_from(EXECUTION)) == 1
            raise RuntimeError("the chunk failed")

        assert conn.execute("SELECT count(*) FROM interest_batch_execution").fetchone() == (0,)

"""A tiny in-database book for tests: products, tiers, accounts and balances, plus readers and a runner."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import dagster as dg
import psycopg
from psycopg.rows import dict_row

from interest_pipeline.accrual.job import JOB_NAME
from interest_pipeline.definitions import defs

DEFAULT_OPENED = date(2020, 1, 1)


@dataclass
class Book:
    conn: psycopg.Connection

    def product(
        self,
        code: str,
        *,
        tiers: Iterable[tuple[date | str, str, str]] = (),
        day_count: str = "ACT/365F",
        tier_mode: str = "WHOLE",
        account_type: str = "SAVINGS",
        posting_frequency: str = "MONTHLY",
        min_balance: str | None = None,
    ) -> str:
        """tiers: (effective_from, min_balance, annual_rate percent)."""
        self.conn.execute(
            "INSERT INTO interest_products (code, account_type, day_count, posting_frequency, tier_mode,"
            " min_balance_for_interest) VALUES (%s, %s, %s, %s, %s, %s)",
            (code, account_type, day_count, posting_frequency, tier_mode, min_balance),
        )
        self.tiers(code, tiers)
        return code

    def tiers(self, code: str, tiers: Iterable[tuple[date | str, str, str]]) -> None:
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO interest_rate_tiers (product_code, effective_from, min_balance, annual_rate)"
                " VALUES (%s, %s, %s, %s)",
                [(code, eff, Decimal(m), Decimal(r)) for eff, m, r in tiers],
            )

    def account(
        self,
        account_id: int,
        product: str,
        balances: Mapping[date | str, str] | None = None,
        *,
        currency: str = "USD",
        status: str = "ACTIVE",
        opened_on: date | str = DEFAULT_OPENED,
        closed_on: date | str | None = None,
        maturity_date: date | str | None = None,
        rate_override: str | None = None,
    ) -> int:
        self.conn.execute(
            "INSERT INTO accounts (id, account_number, product_code, currency, status, opened_on, closed_on,"
            " maturity_date, rate_override) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                account_id,
                f"ACC-{account_id:08d}",
                product,
                currency,
                status,
                opened_on,
                closed_on,
                maturity_date,
                Decimal(rate_override) if rate_override is not None else None,
            ),
        )
        for day, balance in (balances or {}).items():
            self.balance(account_id, day, balance)
        return account_id

    def balance(self, account_id: int, day: date | str, balance: str) -> None:
        self.conn.execute(
            "INSERT INTO account_balances (account_id, balance_date, closing_balance) VALUES (%s, %s, %s)"
            " ON CONFLICT (account_id, balance_date) DO UPDATE SET closing_balance = EXCLUDED.closing_balance",
            (account_id, day, Decimal(balance)),
        )

    # --- readers ---------------------------------------------------------------------------

    def accruals(self, day: date | str | None = None) -> dict[int, Decimal]:
        """account_id -> amount of the accrual rows of `day` (all days when None, keyed by account)."""
        rows = self.conn.execute(
            "SELECT account_id, amount FROM interest_accruals WHERE %(d)s::date IS NULL OR accrual_date = %(d)s"
            " ORDER BY account_id",
            {"d": day},
        ).fetchall()
        return {r[0]: r[1] for r in rows}

    def accrual_row(self, account_id: int, day: date | str) -> dict[str, Any] | None:
        with self.conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(
                # xmin of the stored row: a new one means the row was rewritten
                "SELECT v.*, e.xmin::text AS xmin FROM interest_accruals v"
                " JOIN interest_accrual_entries e USING (account_id, accrual_date)"
                " WHERE account_id = %s AND accrual_date = %s",
                (account_id, day),
            ).fetchone()

    def results(self, run_id: str) -> dict[int, dict[str, Any]]:
        with self.conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(
                "SELECT * FROM interest_batch_account_result WHERE execution_id = %s ORDER BY created_at, account_id",
                (run_id,),
            ).fetchall()
        return {r["account_id"]: r for r in rows}

    def execution(self, run_id: str) -> dict[str, Any]:
        with self.conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute("SELECT * FROM interest_batch_execution WHERE id = %s", (run_id,)).fetchone()
        assert row is not None, f"no execution row for run {run_id}"
        return row

    def executions(self) -> list[dict[str, Any]]:
        with self.conn.cursor(row_factory=dict_row) as cur:
            return cur.execute("SELECT * FROM interest_batch_execution ORDER BY started_at").fetchall()

    def status(self, account_id: int) -> dict[str, Any] | None:
        with self.conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(
                "SELECT * FROM interest_batch_account_status WHERE account_id = %s"
                " AND job_type = 'daily_interest_accrual'",
                (account_id,),
            ).fetchone()


def accrue(
    day: date | str,
    instance: dg.DagsterInstance,
    *,
    tags: Mapping[str, str] | None = None,
    raise_on_error: bool = True,
    **config: Any,
) -> dg.ExecuteInProcessResult:
    """One real run of the job for business date `day` (in-process executor)."""
    run_config = {"ops": {"plan_accrual": {"config": config}}} if config else None
    return defs.get_job_def(JOB_NAME).execute_in_process(
        partition_key=str(day),
        instance=instance,
        run_config=run_config,
        tags=dict(tags or {}),
        raise_on_error=raise_on_error,
    )

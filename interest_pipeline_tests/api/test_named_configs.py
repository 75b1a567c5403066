"""Named configurations (migration 0008): several per job type, runs load the one they name."""

import psycopg
import pytest

from interest_pipeline.batch.config import BatchConfigError, load_job_config

INSERT = (
    "INSERT INTO interest_batch_config (job_type, name, batch_size, parallel_threads, max_retries,"
    " retry_interval_seconds, timeout_seconds, account_types, cron_expression)"
    " VALUES (%s, %s, %s, 1, 0, 0, 60, ARRAY['FIXED_DEPOSIT'], '0 2 * * *') RETURNING id"
)


def add(conn: psycopg.Connection, job_type: str, name: str, batch_size: int = 7) -> int:
    row = conn.execute(INSERT, (job_type, name, batch_size)).fetchone()
    assert row is not None
    return int(row[0])


class TestNamedConfigs:
    def test_seeded_rows_are_named_default(self, conn: psycopg.Connection) -> None:
        rows = conn.execute("SELECT job_type, name FROM interest_batch_config ORDER BY job_type").fetchall()
        assert rows == [("daily_interest_accrual", "default"), ("interest_posting", "default")]

    def test_several_per_job_type_but_names_unique_within_one(self, conn: psycopg.Connection) -> None:
        add(conn, "interest_posting", "fixed-deposits")
        add(conn, "daily_interest_accrual", "fixed-deposits")
        with pytest.raises(psycopg.errors.UniqueViolation, match="uq_interest_batch_config_job_type_name"):
            add(conn, "interest_posting", "fixed-deposits")

    def test_a_blank_name_is_refused(self, conn: psycopg.Connection) -> None:
        with pytest.raises(psycopg.errors.CheckViolation, match="name_not_blank"):
            add(conn, "interest_posting", " ")

    def test_load_picks_the_named_row_or_the_default(self, conn: psycopg.Connection) -> None:
        config_id = add(conn, "interest_posting", "fixed-deposits", batch_size=7)
        named = load_job_config(conn, "interest_posting", config_id)
        assert (named.config_id, named.name, named.batch_size, named.account_types) == (
            config_id,
            "fixed-deposits",
            7,
            ("FIXED_DEPOSIT",),
        )
        default = load_job_config(conn, "interest_posting")
        assert (default.name, default.batch_size) == ("default", 250_000)

    def test_a_row_of_another_job_type_is_refused(self, conn: psycopg.Connection) -> None:
        config_id = add(conn, "interest_posting", "fixed-deposits")
        with pytest.raises(BatchConfigError, match=f"no interest_batch_config row {config_id} for job type"):
            load_job_config(conn, "daily_interest_accrual", config_id)

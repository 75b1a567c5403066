"""Merging a run's config over the job's interest_batch_config row, and validating it."""

import psycopg
import pytest

from interest_pipeline.batch.config import (
    BatchConfigError,
    BatchRunConfig,
    JobConfigRow,
    load_job_config,
    merge_config,
)

ROW = JobConfigRow(
    job_type="daily_interest_accrual",
    batch_size=50_000,
    parallel_threads=2,
    max_retries=3,
    retry_interval_seconds=60,
    timeout_seconds=3600,
    account_types=("SAVINGS", "FIXED_DEPOSIT", "RECURRING_DEPOSIT"),
    custom_parameters={"include_dormant_accounts": False, "process_failed_accounts_first": True},
    cron_expression="0 0 * * *",
    enabled=True,
)


class TestMergeConfig:
    def test_row_defaults_without_run_config(self) -> None:
        merged = merge_config(ROW, BatchRunConfig())
        assert (
            merged.batch_size,
            merged.include_dormant,
            merged.process_failed_first,
            merged.account_ids,
        ) == (
            50_000,
            False,
            True,
            None,
        )

    def test_run_config_wins(self) -> None:
        merged = merge_config(
            ROW,
            BatchRunConfig(
                batch_size=10,
                include_dormant_accounts=True,
                process_failed_accounts_first=False,
                account_types=["RECURRING_DEPOSIT", "SAVINGS"],
                account_ids=[9, 3, 9],
            ),
        )
        assert merged.parameters() == {
            "batch_size": 10,
            "parallel_threads": 2,
            "max_retries": 3,
            "retry_interval_seconds": 60,
            "timeout_seconds": 3600,
            "account_types": ["SAVINGS", "RECURRING_DEPOSIT"],
            "include_dormant_accounts": True,
            "process_failed_accounts_first": False,
            "account_ids": [3, 9],
        }

    def test_non_boolean_custom_parameter_is_an_error(self) -> None:
        row = JobConfigRow(**{**ROW.__dict__, "custom_parameters": {"include_dormant_accounts": "yes"}})
        with pytest.raises(
            BatchConfigError, match=r"custom_parameters\.include_dormant_accounts must be true or false"
        ):
            merge_config(row, BatchRunConfig())

    def test_too_large_batch_is_an_error(self) -> None:
        with pytest.raises(BatchConfigError, match="batch_size must be between 1 and 1000000, got 1000001"):
            merge_config(ROW, BatchRunConfig(batch_size=1_000_001))


class TestLoadJobConfig:
    def test_reads_the_seeded_row(self, conn: psycopg.Connection) -> None:
        row = load_job_config(conn, "interest_posting")
        assert (row.job_type, row.batch_size, row.parallel_threads, row.enabled) == (
            "interest_posting",
            250_000,
            2,
            True,
        )

    def test_missing_row_is_an_error(self, conn: psycopg.Connection) -> None:
        conn.execute("DELETE FROM interest_batch_config WHERE job_type = 'interest_posting'")
        with pytest.raises(
            BatchConfigError, match="no interest_batch_config row for job type 'interest_posting'"
        ):
            load_job_config(conn, "interest_posting")

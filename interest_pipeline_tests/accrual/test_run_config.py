"""The run's config over the job's interest_batch_config row: scope, chunking, ordering, validation."""

from datetime import date
from decimal import Decimal

import dagster as dg
import psycopg
import pytest

from interest_pipeline_tests.accrual.book import Book, accrue

D = date(2025, 3, 10)


def _six_accounts(book: Book) -> None:
    book.product("P", tiers=[("2020-01-01", "0", "3.65")])
    for account_id in range(1, 7):
        book.account(account_id, "P", {"2024-01-01": "1000"})


def _no_trace(conn: psycopg.Connection) -> tuple[int, int, int]:
    return conn.execute(
        "SELECT (SELECT count(*) FROM interest_batch_execution), (SELECT count(*) FROM interest_accruals),"
        " (SELECT count(*) FROM interest_batch_account_result)"
    ).fetchone()  # type: ignore[return-value]


class TestScope:
    def test_account_ids_limit_the_run_and_are_recorded(
        self, book: Book, instance: dg.DagsterInstance
    ) -> None:
        _six_accounts(book)
        result = accrue(D, instance, account_ids=[5, 2, 5])
        assert set(book.accruals(D)) == {2, 5}
        row = book.execution(result.run_id)
        assert (row["account_ids"], row["accounts_processed"], row["total_chunks"]) == ([2, 5], 2, 1)

    def test_batch_size_sets_the_chunks(self, book: Book, instance: dg.DagsterInstance) -> None:
        _six_accounts(book)
        result = accrue(D, instance, batch_size=4)
        chunk_steps = [e.step_key for e in result.all_events if e.event_type_value == "STEP_SUCCESS"]
        assert chunk_steps.count("accrue_chunk[chunk_00000]") == 1
        assert sorted(k for k in chunk_steps if k and k.startswith("accrue_chunk")) == [
            "accrue_chunk[chunk_00000]",
            "accrue_chunk[chunk_00001]",
        ]
        assert book.execution(result.run_id)["total_chunks"] == 2

    def test_config_row_defaults_apply_without_run_config(
        self, book: Book, instance: dg.DagsterInstance
    ) -> None:
        _six_accounts(book)
        book.conn.execute(
            "UPDATE interest_batch_config SET batch_size = 3, custom_parameters = '{\"include_dormant_accounts\": true}'"
            " WHERE job_type = 'daily_interest_accrual'"
        )
        book.conn.execute("UPDATE accounts SET status = 'DORMANT' WHERE id = 6")
        result = accrue(D, instance)
        row = book.execution(result.run_id)
        assert (row["total_chunks"], row["include_dormant"], row["accounts_succeeded"]) == (2, True, 6)


class TestFailedAccountsFirst:
    def _fail_account_five_last_time(self, book: Book, instance: dg.DagsterInstance) -> None:
        book.conn.execute("UPDATE accounts SET rate_override = NULL, product_code = 'NORATE' WHERE id = 5")
        accrue(date(2025, 3, 9), instance)
        book.conn.execute("UPDATE accounts SET product_code = 'P' WHERE id = 5")

    def test_chunks_with_failed_accounts_run_first(self, book: Book, instance: dg.DagsterInstance) -> None:
        _six_accounts(book)
        book.product("NORATE")
        self._fail_account_five_last_time(book, instance)

        result = accrue(D, instance, batch_size=2, process_failed_accounts_first=True)

        starts = [
            e.step_key
            for e in result.all_events
            if e.event_type_value == "STEP_START" and (e.step_key or "").startswith("accrue_chunk")
        ]
        # six accounts in chunks of at most 2, a multiple of the 2 threads: {1, 2} {3} {4, 5} {6}
        assert starts == [
            "accrue_chunk[chunk_00002]",
            "accrue_chunk[chunk_00000]",
            "accrue_chunk[chunk_00001]",
            "accrue_chunk[chunk_00003]",
        ]
        assert book.execution(result.run_id)["parameters"]["chunk_order"] == [2, 0, 1, 3]
        # and the rows were written in that order
        written = [r["account_id"] for r in book.results(result.run_id).values()]
        assert written == [4, 5, 1, 2, 3, 6]
        assert book.accruals(D)[5] == Decimal("0.1000000000")

    def test_id_order_when_not_asked(self, book: Book, instance: dg.DagsterInstance) -> None:
        _six_accounts(book)
        book.product("NORATE")
        self._fail_account_five_last_time(book, instance)

        result = accrue(D, instance, batch_size=2, process_failed_accounts_first=False)

        assert book.execution(result.run_id)["parameters"]["chunk_order"] == [0, 1, 2, 3]
        assert [r["account_id"] for r in book.results(result.run_id).values()] == [1, 2, 3, 4, 5, 6]


class TestValidation:
    @pytest.mark.parametrize(
        ("config", "message"),
        [
            ({"batch_size": 0}, "batch_size must be between 1 and 1000000, got 0"),
            ({"account_types": ["SAVINGS", "CHECKING"]}, "account_types: unknown 'CHECKING'"),
            ({"account_types": []}, "account_types must name at least one account type"),
            ({"account_ids": []}, "account_ids must not be empty"),
            ({"account_ids": [3, -1]}, "account_ids must be positive, got -1"),
        ],
        ids=["batch-size", "unknown-type", "no-types", "empty-ids", "negative-id"],
    )
    def test_bad_values_fail_the_run_and_write_nothing(
        self, book: Book, instance: dg.DagsterInstance, config: dict[str, object], message: str
    ) -> None:
        _six_accounts(book)
        result = accrue(D, instance, raise_on_error=False, **config)
        assert not result.success
        [failure] = result.get_step_failure_events()
        error = failure.step_failure_data.error
        assert error is not None
        text = error.message + (error.cause.message if error.cause else "")
        assert message in text
        assert _no_trace(book.conn) == (0, 0, 0)

    def test_every_problem_is_named_at_once(self, book: Book, instance: dg.DagsterInstance) -> None:
        result = accrue(D, instance, raise_on_error=False, batch_size=-5, account_types=["X"])
        error = result.get_step_failure_events()[0].step_failure_data.error
        assert error is not None and error.cause is not None
        assert "batch_size" in error.cause.message and "'X'" in error.cause.message

    def test_wrong_type_is_rejected_before_the_run(self, book: Book, instance: dg.DagsterInstance) -> None:
        with pytest.raises(dg.DagsterInvalidConfigError, match="batch_size"):
            accrue(D, instance, batch_size="many")
        assert _no_trace(book.conn) == (0, 0, 0)
